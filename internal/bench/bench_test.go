package bench

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TestBench prints, per scenario, one table comparing the wait policies and
// one summary line against the targets. It only reports: timings on a shared
// machine are not something a test should fail on. Set AMIBAKE_BENCH=1 (make
// bench does) to run it.
func TestBench(t *testing.T) {
	if os.Getenv("AMIBAKE_BENCH") == "" {
		t.Skip("set AMIBAKE_BENCH=1 (or run make bench)")
	}
	doc, err := pipelineDoc()
	if err != nil {
		t.Fatal(err)
	}
	s := loadSettings()
	out := os.Stdout
	verbose := os.Getenv("AMIBAKE_BENCH_VERBOSE") != ""
	fmt.Fprintf(out, "\nSimulated cloud: seed %d, 1 s real = %.0f s simulated; %d single bakes (each alone) and %d concurrent bakes per policy and scenario.\n",
		s.seed, s.scale, s.singles, s.concurrent)
	fmt.Fprintf(out, "wall/ideal: a bake's time over the time AWS itself needed (the sum of its transitions); API calls as the cloud received them, retries included.\n")

	for _, sc := range scenarios() {
		cs := contenders()
		singles := make([]singleResult, len(cs))
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				singles[i] = runSingles(doc, s, sc, c)
			}()
		}
		wg.Wait()
		if verbose {
			for i, c := range cs {
				fmt.Fprintf(out, "  %s, single, %s: lateness per step: %s\n", sc.name, c.name, lateness(singles[i].bakes))
				fmt.Fprintf(out, "  %s, single, %s: calls per bake: %s\n", sc.name, c.name, perOp(singles[i].perOp))
			}
		}
		if sc.instant {
			reportInstant(out, s, sc, cs, singles)
			continue
		}
		conc := make([]concurrentResult, len(cs))
		for i, c := range cs {
			conc[i] = runConcurrent(doc, s, sc, c)
			if verbose {
				fmt.Fprintf(out, "  %s, %d at once, %s: %s\n", sc.name, s.concurrent, c.name, conc[i].stats)
				fmt.Fprintf(out, "  %s, %d at once, %s: lateness per step: %s\n", sc.name, s.concurrent, c.name, lateness(conc[i].bakes))
			}
			if conc[i].firstErr != nil {
				fmt.Fprintf(out, "  %s, %s: first failure: %v\n", sc.name, c.name, conc[i].firstErr)
			}
		}
		report(out, s, sc, cs, singles, conc)
	}
}

func report(out io.Writer, s settings, sc scenario, cs []contender, singles []singleResult, conc []concurrentResult) {
	fmt.Fprintf(out, "\n== %s: %s\n", sc.name, sc.about)
	row := func(group, label string, cell func(i int) string) {
		fmt.Fprintf(out, "%-13s %-30s", group, label)
		for i := range cs {
			fmt.Fprintf(out, " %10s", cell(i))
		}
		fmt.Fprintln(out)
	}
	row("", "", func(i int) string { return cs[i].name })
	row("single bake", fmt.Sprintf("wall/ideal (mean of %d)", s.singles), func(i int) string { return fmt.Sprintf("%.3f", mean(singles[i].ratios)) })
	row("", "wall/ideal (worst)", func(i int) string { return fmt.Sprintf("%.3f", percentile(singles[i].ratios, 1)) })
	row("", "API calls per bake", func(i int) string { return fmt.Sprintf("%.1f", singles[i].calls) })
	row("", "failed bakes", func(i int) string { return fmt.Sprint(singles[i].failed) })
	group := fmt.Sprintf("%d at once", s.concurrent)
	row(group, "failed bakes", func(i int) string { return fmt.Sprint(conc[i].failed) })
	row("", "wall/ideal (mean)", func(i int) string { return fmt.Sprintf("%.3f", mean(conc[i].ratios)) })
	row("", "wall/ideal (95th percentile)", func(i int) string { return fmt.Sprintf("%.3f", percentile(conc[i].ratios, 0.95)) })
	row("", "API calls per bake", func(i int) string { return fmt.Sprintf("%.1f", conc[i].calls) })
	row("", "throttled responses", func(i int) string { return fmt.Sprint(conc[i].throttled) })
	row("", "peak heap in use (MiB)", func(i int) string { return fmt.Sprintf("%.1f", float64(conc[i].peakHeap)/(1<<20)) })

	// The summary holds amibake (first) against the targets; tf-aws (last)
	// gives the call budget.
	a, tf := 0, len(cs)-1
	single, budget := mean(singles[a].ratios), singles[tf].calls
	singleTarget := 1.03
	if sc.name != "typical" {
		singleTarget = 1.10
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("single wall/ideal %.3f (target <= %.2f: %s)", single, singleTarget, verdict(single <= singleTarget && singles[a].failed == 0)))
	if sc.name == "typical" {
		parts = append(parts, fmt.Sprintf("%.1f calls/bake (tf-aws %.1f: %s)", singles[a].calls, budget, verdict(singles[a].calls <= budget)))
	}
	cm := mean(conc[a].ratios)
	parts = append(parts, fmt.Sprintf("%d at once: %d failed (%s), wall/ideal %.3f (target <= 1.10: %s), %.1f calls/bake (target <= %.1f: %s)",
		s.concurrent, conc[a].failed, verdict(conc[a].failed == 0), cm, verdict(cm <= 1.10),
		conc[a].calls, budget/2, verdict(conc[a].calls <= budget/2)))
	fmt.Fprintf(out, "summary %s: amibake %s\n", sc.name, strings.Join(parts, "; "))
}

// reportInstant: against an emulator a bake's time is the emulator's own
// (its answers) plus what the provider adds: waits, and its own work.
func reportInstant(out io.Writer, s settings, sc scenario, cs []contender, singles []singleResult) {
	fmt.Fprintf(out, "\n== %s: %s\n", sc.name, sc.about)
	row := func(group, label string, cell func(i int) string) {
		fmt.Fprintf(out, "%-13s %-30s", group, label)
		for i := range cs {
			fmt.Fprintf(out, " %10s", cell(i))
		}
		fmt.Fprintln(out)
	}
	row("", "", func(i int) string { return cs[i].name })
	row("single bake", fmt.Sprintf("added s (mean of %d)", s.singles), func(i int) string { return fmt.Sprintf("%.3f", mean(singles[i].added)) })
	row("", "added s (worst)", func(i int) string { return fmt.Sprintf("%.3f", percentile(singles[i].added, 1)) })
	row("", "API calls per bake", func(i int) string { return fmt.Sprintf("%.1f", singles[i].calls) })
	row("", "failed bakes", func(i int) string { return fmt.Sprint(singles[i].failed) })
	a := singles[0]
	added := mean(a.added)
	fmt.Fprintf(out, "summary %s: amibake adds %.3f s to a six-step bake over the emulator's own time (target <= 1 s: %s)\n",
		sc.name, added, verdict(added <= 1 && a.failed == 0 && len(a.added) > 0))
}

func perOp(m map[string]float64) string {
	ops := make([]string, 0, len(m))
	for op := range m {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return m[ops[i]] > m[ops[j]] })
	var parts []string
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%s %.1f", op, m[op]))
	}
	return strings.Join(parts, ", ")
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}
