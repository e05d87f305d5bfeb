package engine

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// measured runs f and reports the bytes it allocated and the heap in use
// after it, with the time it took.
func measured(t *testing.T, what string, f func()) (totalAlloc, heapInuse uint64) {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	totalAlloc, heapInuse = after.TotalAlloc-before.TotalAlloc, after.HeapInuse
	t.Logf("%s: %v, %d KB allocated, %d KB heap in use after", what, elapsed, totalAlloc>>10, heapInuse>>10)
	return totalAlloc, heapInuse
}

// chainedDefaults is the parameter set of the defaults bomb: P0 is 8 bytes,
// and each next default repeats the one before fan times.
func chainedDefaults(levels, fan int) []document.Parameter {
	ps := []document.Parameter{{Name: "P0", Type: "String", Default: "AAAAAAAA", HasDefault: true}}
	for l := 1; l <= levels; l++ {
		ps = append(ps, document.Parameter{Name: "P" + strconv.Itoa(l), Type: "String", HasDefault: true,
			Default: strings.Repeat("{{ P"+strconv.Itoa(l-1)+" }}", fan)})
	}
	return ps
}

func TestRunBoundsParameterDefaults(t *testing.T) {
	// Not validated: the engine holds the bound on its own. Resolved, P3
	// would be 8 GB.
	d := doc(step("use", "aws:sleep", inputs(map[string]any{"Duration": "PT1S"})))
	d.Parameters = chainedDefaults(3, 1000)
	s := &script{}
	var err error
	alloc, heap := measured(t, "defaults bomb", func() {
		_, err = Run(context.Background(), d, nil, options(s, nil))
	})
	var le *document.LimitError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *document.LimitError", err)
	}
	want := `default of parameter "P2": with {{ P1 }}, the value would be more than 262,144 bytes`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v\nwant prefix %s", err, want)
	}
	if len(s.ran()) != 0 {
		t.Errorf("steps ran: %v", s.ran())
	}
	if alloc > 16<<20 || heap > 200<<20 {
		t.Errorf("allocated %d bytes, %d in use: want the value refused before it is built", alloc, heap)
	}
}

func TestRunBoundsParameterSet(t *testing.T) {
	d := doc(step("use", "aws:sleep", inputs(map[string]any{"Duration": "PT1S"})))
	given := map[string]string{}
	for i := 0; i < 5; i++ {
		name := "G" + strconv.Itoa(i)
		d.Parameters = append(d.Parameters, document.Parameter{Name: name, Type: "String"})
		given[name] = strings.Repeat("g", 250_000)
	}
	_, err := Run(context.Background(), d, given, options(&script{}, nil))
	if err == nil || !strings.Contains(err.Error(), `parameter "G4": the value and the others of its set would be more than 1,048,576 bytes`) {
		t.Errorf("err = %v", err)
	}
}

func TestRunBoundsStepInputs(t *testing.T) {
	d := doc(
		step("get", "aws:executeAwsApi"),
		step("use", "aws:executeScript", inputs(map[string]any{"Runtime": "python3.11", "Handler": "h",
			"Script": strings.Repeat("{{ get.Out }}", 1000)})),
	)
	s := &script{behaviour: map[string]fakeAction{"get": outputs(map[string]any{"Out": strings.Repeat("o", 8000)})}}
	res, err := Run(context.Background(), d, nil, options(s, nil))
	want := `step "use" (aws:executeScript) failed: input Script: with {{ get.Out }}, the value would be more than 262,144 bytes`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant it to contain %s", err, want)
	}
	if got := statuses(res); strings.Join(got, " ") != "get:Success use:Failed" {
		t.Errorf("steps = %v", got)
	}
	if s.input("use") != nil {
		t.Error("the action ran with the oversized input")
	}
}

func TestRunCapsMaxAttempts(t *testing.T) {
	n := 0
	s := &script{behaviour: map[string]fakeAction{"flaky": func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
		n++
		return actions.Result{}, errors.New("still failing")
	}}}
	_, err := Run(context.Background(), doc(step("flaky", "aws:sleep", maxAttempts(1_000_000))), nil, options(s, nil))
	if err == nil || n != document.MaxAttempts {
		t.Errorf("err = %v after %d attempts, want a failure after %d", err, n, document.MaxAttempts)
	}
}
