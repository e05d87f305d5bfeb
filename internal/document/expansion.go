package document

// ExpansionProblems estimates, without resolving anything, how large the
// parameter values and step inputs of a run become once their {{ }}
// references are resolved, and reports those over MaxValueBytes and the sets
// over MaxInputSetBytes. given are the values the run gets (they replace
// defaults, and are not resolved); nil checks the document's defaults alone,
// as Validate does.
//
// A reference to a parameter counts the estimated size of that parameter's
// value, once per reference, so a default that repeats another parameter a
// thousand times, which repeats a third a thousand times, is caught from the
// reference counts alone. Values known only at run time (globals, SSM
// parameters, step outputs) count as long as their template; the engine checks
// the real sizes again as it resolves. A default that refers to itself, even
// through others, counts nothing for that reference: the engine refuses such
// cycles when it resolves them.
func ExpansionProblems(d *Document, given map[string]string) []Problem {
	if d == nil {
		return nil
	}
	v := &validator{d: d}
	v.expansion(given)
	return v.problems
}

// expansion reports values that would grow over the bounds.
func (v *validator) expansion(given map[string]string) {
	e := newEstimator(v.d, given)
	var total int64
	over := false
	seen := map[string]bool{}
	for _, p := range v.d.Parameters {
		if seen[p.Name] {
			continue // reported as declared twice
		}
		seen[p.Name] = true
		n := e.param(p.Name)
		total = satAdd(total, n)
		if n <= MaxValueBytes {
			continue
		}
		over = true
		if text, ok := given[p.Name]; ok {
			v.docProblem([]string{"parameters", p.Name},
				"the value given for parameter %s is %s, more than %s, the limit for one value; pass large data by reference (for example an S3 URL)",
				QuoteValue(p.Name), Bytes(int64(len(text))), Bytes(MaxValueBytes))
			continue
		}
		if e.usesOver(p.Default) {
			continue // the parameter it uses is reported
		}
		if !containsTemplate(p.Default) {
			v.docProblem([]string{"parameters", p.Name, "default"},
				"the default of parameter %s is %s, more than %s, the limit for one value; pass large data by reference (for example an S3 URL)",
				QuoteValue(p.Name), Bytes(n), Bytes(MaxValueBytes))
			continue
		}
		v.docProblem([]string{"parameters", p.Name, "default"},
			"the default of parameter %s would be about %s once its {{ }} references to other parameters are resolved, more than %s, the limit for one value; "+
				"refer to other parameters fewer times, or to shorter ones",
			QuoteValue(p.Name), Bytes(n), Bytes(MaxValueBytes))
	}
	if over {
		return // inputs that use those parameters are over too
	}
	if total > MaxInputSetBytes {
		v.docProblem([]string{"parameters"},
			"the parameter values together would be about %s once their {{ }} references are resolved, more than %s, the limit for a run's parameter values together",
			Bytes(total), Bytes(MaxInputSetBytes))
		return
	}
	for i := range v.d.MainSteps {
		s := &v.d.MainSteps[i]
		c := v.outerStep(i, s)
		var sum int64
		reported := false
		for _, name := range sortedKeys(s.Inputs) {
			n := e.value(s.Inputs[name])
			sum = satAdd(sum, n)
			if n > MaxValueBytes && !containsTemplate(s.Inputs[name]) {
				reported = true
				c.problem([]string{"inputs", name}, "input %s is %s, more than %s, the limit for one value; pass large data by reference (for example an S3 URL)",
					quoteIfLong(name), Bytes(n), Bytes(MaxValueBytes))
			} else if n > MaxValueBytes {
				reported = true
				c.problem([]string{"inputs", name},
					"input %s would be about %s once its {{ }} references are resolved, more than %s, the limit for one value; refer to parameters fewer times, or to shorter ones",
					quoteIfLong(name), Bytes(n), Bytes(MaxValueBytes))
			}
		}
		if !reported && sum > MaxInputSetBytes {
			c.problem([]string{"inputs"},
				"the inputs together would be about %s once their {{ }} references are resolved, more than %s, the limit for one step's inputs together",
				Bytes(sum), Bytes(MaxInputSetBytes))
		}
	}
}

// estimator computes upper estimates of resolved sizes, each parameter once.
type estimator struct {
	d      *Document
	given  map[string]string
	params map[string]*Parameter
	vars   map[string]*Variable
	memo   map[string]int64
	open   map[string]bool
}

func newEstimator(d *Document, given map[string]string) *estimator {
	e := &estimator{d: d, given: given, params: map[string]*Parameter{}, vars: map[string]*Variable{},
		memo: map[string]int64{}, open: map[string]bool{}}
	for i := range d.Parameters {
		if _, dup := e.params[d.Parameters[i].Name]; !dup {
			e.params[d.Parameters[i].Name] = &d.Parameters[i]
		}
	}
	for i := range d.Variables {
		if _, dup := e.vars[d.Variables[i].Name]; !dup {
			e.vars[d.Variables[i].Name] = &d.Variables[i]
		}
	}
	return e
}

// param estimates the size of a parameter's value in a run.
func (e *estimator) param(name string) int64 {
	if n, ok := e.memo[name]; ok {
		return n
	}
	if e.open[name] {
		return 0 // a cycle, refused by the engine
	}
	p := e.params[name]
	var n int64
	switch text, given := e.given[name]; {
	case given:
		v, err := parseParameterText(p.Type, text, true) // only its size is used
		if err != nil {
			v = text
		}
		n = ValueSize(v)
	case p.HasDefault:
		e.open[name] = true
		n = e.value(NormalizeValue(p.Default))
		delete(e.open, name)
	}
	e.memo[name] = n
	return n
}

// value estimates the size of v once its templates are resolved.
func (e *estimator) value(v any) int64 {
	switch t := v.(type) {
	case string:
		spans, err := scanTemplates(t)
		if err != nil || len(spans) == 0 {
			return int64(len(t))
		}
		n := int64(len(t))
		for _, sp := range spans {
			n = satAdd(n-int64(sp.end-sp.start), e.ref(sp.ref))
		}
		return n
	case []any:
		n := 2 + int64(len(t))
		for _, x := range t {
			n = satAdd(n, e.value(x))
		}
		return n
	case map[string]any:
		n := 2 + int64(len(t))
		for k, x := range t {
			n = satAdd(n, satAdd(int64(len(k)), e.value(x)))
		}
		return n
	case []string, map[string]string:
		return e.value(NormalizeValue(t))
	}
	return ValueSize(v)
}

// ref estimates the size of what a template resolves to.
func (e *estimator) ref(r Ref) int64 {
	if r.Kind == RefParameter {
		if _, ok := e.params[r.Name]; ok && !r.IsVariable() {
			return e.param(r.Name)
		}
		if va, ok := e.vars[r.Name]; ok {
			// The engine uses variable defaults as written.
			return ValueSize(NormalizeValue(va.Default))
		}
	}
	return int64(len(r.Raw))
}

// usesOver reports whether v refers to a parameter estimated over the bound.
func (e *estimator) usesOver(v any) bool {
	refs, _ := RefsIn(v)
	for _, r := range refs {
		if r.Kind == RefParameter && !r.IsVariable() {
			if _, ok := e.params[r.Name]; ok && e.param(r.Name) > MaxValueBytes {
				return true
			}
		}
	}
	return false
}
