package document

import (
	"fmt"
	"strings"
)

// levenshtein is the edit distance between a and b, by rune.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) == 0 {
		return len(rb)
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// closest returns the candidate nearest to name, compared case-insensitively, when
// it is near enough to be what the author meant.
func closest(name string, candidates []string) (string, bool) {
	if name == "" || len(candidates) == 0 || len(name) > maxSuggestLen {
		return "", false // a long value is no slip of a short name
	}
	lname := strings.ToLower(name)
	best, bestDist := "", -1
	for _, c := range candidates {
		d := levenshtein(lname, strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := max(2, len([]rune(name))/3)
	if bestDist <= limit {
		return best, true
	}
	// An abbreviation ("stop" for "stopped") is also a likely slip.
	if len(lname) >= 3 {
		for _, c := range candidates {
			if strings.HasPrefix(strings.ToLower(c), lname) {
				return c, true
			}
		}
	}
	return "", false
}

// maxSuggestLen is the longest name suggestions are looked for: the edit
// distance takes time in proportion to the length of both strings.
const maxSuggestLen = 256

// maxHintList is how many candidates hintList shows.
const maxHintList = 30

// didYouMean formats a suggestion ("; did you mean "x"?") or nothing.
func didYouMean(name string, candidates []string) string {
	if s, ok := closest(name, candidates); ok && s != name {
		return fmt.Sprintf("; did you mean %s?", QuoteValue(s))
	}
	return ""
}

// hintList is a suggestion followed by the list it was drawn from:
// `; did you mean "x"? (label: a, b, c)`.
func hintList(name string, candidates []string, label string) string {
	shown := make([]string, 0, min(len(candidates), maxHintList))
	for i, c := range candidates {
		if i == maxHintList {
			shown = append(shown, fmt.Sprintf("and %d more", len(candidates)-maxHintList))
			break
		}
		shown = append(shown, quoteIfLong(c))
	}
	return didYouMean(name, candidates) + " (" + label + ": " + strings.Join(shown, ", ") + ")"
}

// quoteList renders names as "a", "b" and "c" for messages.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = QuoteValue(n)
	}
	return strings.Join(q, ", ")
}
