package document

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/dlclark/regexp2/v2/syntax"
)

// allowedPattern is written for SSM's regular expressions, not Go's: "Systems
// Manager performs two validations for allowedPattern. The first validation is
// performed using the Java regex library at the API level" (AWS Systems
// Manager User Guide, "Data elements and parameters", allowedPattern). Automation
// runs no agent, so only the Java check applies. Java patterns have bounded
// repeats above 1000 ({1,2048}), lookarounds ((?=...), (?<!...)), backreferences
// and possessive quantifiers, all of which Go's RE2 refuses; regexp2 (a port of
// .NET's backtracking engine) reads them, with a match timeout so that no
// pattern can make a check hang.
//
// A value matches when the pattern is found in it, as the published runbooks'
// patterns expect (they anchor with ^ and $ where they mean the whole value).

// PatternMatchTimeout bounds one match of an allowedPattern against a value.
// A backtracking pattern that takes longer leaves the value unchecked, with a
// warning: SSM checks it again when the run starts.
const PatternMatchTimeout = 200 * time.Millisecond

// compiledPattern is an allowedPattern as the local check reads it.
type compiledPattern struct {
	re *regexp2.Regexp
	// unchecked says why values cannot be checked locally (a construct
	// of Java's that regexp2 does not read); re is nil then.
	unchecked string
	err       error // the pattern is not a valid Java pattern either
}

var patternCache = struct {
	sync.Mutex
	m map[string]*compiledPattern
}{m: map[string]*compiledPattern{}}

// maxCachedPatterns bounds the cache of compiled patterns.
const maxCachedPatterns = 512

func compileAllowedPattern(p string) *compiledPattern {
	patternCache.Lock()
	c, ok := patternCache.m[p]
	patternCache.Unlock()
	if ok {
		return c
	}
	c = compilePattern(p)
	patternCache.Lock()
	if len(patternCache.m) >= maxCachedPatterns {
		clear(patternCache.m)
	}
	patternCache.m[p] = c
	patternCache.Unlock()
	return c
}

func compilePattern(p string) *compiledPattern {
	if msg := javaRepetitionProblem(p); msg != "" {
		return &compiledPattern{err: errors.New(msg)}
	}
	if strings.Contains(p, `\b{g}`) {
		return &compiledPattern{unchecked: "it uses the grapheme boundary \\b{g}, which only Java's engine reads"}
	}
	translated, intersect := translateJavaClasses(p)
	if intersect {
		return &compiledPattern{unchecked: "it uses a character class intersection (&&), which only Java's engine reads"}
	}
	re, err := regexp2.Compile(translated)
	if err != nil {
		if why := javaOnly(err); why != "" {
			return &compiledPattern{unchecked: why}
		}
		return &compiledPattern{err: err}
	}
	re.MatchTimeout = PatternMatchTimeout
	return &compiledPattern{re: re}
}

// match reports whether the pattern is found in s. ok is false when the
// match could not be decided in PatternMatchTimeout.
func (c *compiledPattern) match(s string) (matched, ok bool) {
	m, err := c.re.MatchString(s)
	if err != nil {
		return false, false
	}
	return m, true
}

// patternReason explains why a pattern does not compile, for messages: the
// parser's reason without the pattern it echoes (the message quotes the
// pattern once, clipped).
func patternReason(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return quoteIfLong(fmt.Sprintf(se.Code.String(), se.Args...))
	}
	return err.Error() // our own, of bounded length
}

// javaOnly tells, from a regexp2 compile error, whether the pattern uses a
// construct that Java reads and regexp2 does not: a property such as
// \p{javaLowerCase} (the POSIX ones are translated below), \N{name}, or an
// inline flag such as (?d). It returns "" for errors Java makes too.
func javaOnly(err error) string {
	var se *syntax.Error
	if !errors.As(err, &se) {
		return ""
	}
	switch se.Code {
	case syntax.ErrUnknownSlashP:
		return fmt.Sprintf("it uses the character property %s, which only Java's engine reads", quoteIfLong(fmt.Sprint(se.Args...)))
	case syntax.ErrUnrecognizedEscape:
		e := fmt.Sprint(se.Args...)
		if strings.ContainsAny(e, "NX") {
			return fmt.Sprintf("it uses \\%s, which only Java's engine reads", e)
		}
	case syntax.ErrUnrecognizedGrouping:
		g := fmt.Sprint(se.Args...)
		if g != "" && strings.Trim(g, "?idmsuxUc-") == "" {
			return fmt.Sprintf("it uses the inline flag (%s), which only Java's engine reads", g)
		}
	}
	return ""
}

// javaRepetitionProblem finds a { that Java refuses: outside a character class
// an unescaped { must begin a repeat count {n}, {n,} or {n,m} ("Illegal
// repetition"), where .NET and regexp2 would read it as a plain character.
func javaRepetitionProblem(p string) string {
	depth := 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			if i+1 < len(p) && p[i+1] == 'Q' {
				end := strings.Index(p[i+2:], `\E`)
				if end < 0 {
					return ""
				}
				i += 2 + end + 1
				continue
			}
			if i+2 < len(p) && strings.IndexByte("pPxNb", p[i+1]) >= 0 && p[i+2] == '{' {
				// \p{Lower}, \x{41}, \N{name}, \b{g}: the braces are the escape's
				if end := strings.IndexByte(p[i+2:], '}'); end >= 0 {
					i += 2 + end
					continue
				}
			}
			i++
		case c == '[':
			depth++
			if i+1 < len(p) && p[i+1] == '^' {
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++ // a ] first in a class is a character
			}
		case c == ']' && depth > 0:
			depth--
		case c == '{' && depth == 0:
			if !repeatCountAt(p[i:]) {
				return fmt.Sprintf("{ at position %d does not begin a repeat count such as {2} or {1,5}; "+
					"SSM's engine (Java) refuses it: write \\{ for the character", i+1)
			}
		}
	}
	return ""
}

func repeatCountAt(s string) bool {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return false
	}
	body := s[1:end]
	lo, hi, comma := strings.Cut(body, ",")
	if lo == "" || !isDigits(lo) {
		return false
	}
	return !comma || hi == "" || isDigits(hi)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// javaClasses are Java's POSIX character classes (US-ASCII only, as Java reads
// them by default) and its whitespace classes \h and \v (to .NET, \v is the
// vertical tab alone), as bodies of character classes.
var javaClasses = map[string]string{
	`\p{Lower}`:  `a-z`,
	`\p{Upper}`:  `A-Z`,
	`\p{ASCII}`:  `\x00-\x7F`,
	`\p{Alpha}`:  `a-zA-Z`,
	`\p{Digit}`:  `0-9`,
	`\p{Alnum}`:  `a-zA-Z0-9`,
	`\p{Punct}`:  `!-/:-@\[-` + "`" + `{-~`,
	`\p{Graph}`:  `!-~`,
	`\p{Print}`:  ` -~`,
	`\p{Blank}`:  ` \t`,
	`\p{Cntrl}`:  `\x00-\x1F\x7F`,
	`\p{XDigit}`: `0-9a-fA-F`,
	`\p{Space}`:  ` \t\n\x0B\f\r`,
	`\h`:         ` \t\xA0\u1680\u180E\u2000-\u200A\u202F\u205F\u3000`,
	`\v`:         `\n\x0B\f\r\x85\u2028\u2029`,
}

// translateJavaClasses rewrites Java's POSIX classes, \h and \v into classes
// regexp2 reads; their negations (\P{Lower}, \H, \V) are rewritten outside
// character classes only. It also reports a class intersection (&&), which
// Java reads and regexp2 would read as two & characters.
func translateJavaClasses(p string) (string, bool) {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			if p[i+1] == 'Q' {
				end := strings.Index(p[i+2:], `\E`)
				if end < 0 {
					b.WriteString(p[i:])
					return b.String(), false
				}
				b.WriteString(p[i : i+2+end+2])
				i += 2 + end + 1
				continue
			}
			if body, neg, n := javaClassAt(p[i:]); n > 0 {
				switch {
				case depth == 0 && neg:
					b.WriteString("[^" + body + "]")
				case depth == 0:
					b.WriteString("[" + body + "]")
				case !neg:
					b.WriteString(body)
				default:
					b.WriteString(p[i : i+n])
				}
				i += n - 1
				continue
			}
			b.WriteString(p[i : i+2])
			i++
		case c == '[':
			depth++
			b.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case c == ']' && depth > 0:
			depth--
			b.WriteByte(c)
		case c == '&' && depth > 0 && i+1 < len(p) && p[i+1] == '&':
			return p, true
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), false
}

// javaClassAt matches one of javaClasses, or its negation, at the start of s.
func javaClassAt(s string) (body string, neg bool, n int) {
	for k, v := range javaClasses {
		if strings.HasPrefix(s, k) {
			return v, false, len(k)
		}
		nk := strings.Replace(k, `\p`, `\P`, 1)
		if len(k) == 2 { // \h, \v
			nk = strings.ToUpper(k)
		}
		if strings.HasPrefix(s, nk) {
			return v, true, len(nk)
		}
	}
	return "", false, 0
}
