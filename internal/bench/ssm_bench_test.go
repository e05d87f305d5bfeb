package bench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
	"github.com/amibake/terraform-provider-amibake/internal/ssmexec"
)

// TestBenchSSM bakes the pipeline 200 times at once with executor "ssm": on
// SSM Automation in the simulated cloud, under SSM's published quotas (100
// executions running at once, the rest queued; 1 StartAutomationExecution a
// second, 3 Get and Describe calls a second), with the same seeded step
// durations as the local scenarios. Its ideal accounts for the quotas: bake k
// in start order cannot start before k seconds (the Start rate) nor before a
// slot frees in a schedule where every execution takes exactly its AWS time
// (the concurrency quota). It reports; it asserts nothing about time.
func TestBenchSSM(t *testing.T) {
	if os.Getenv("AMIBAKE_BENCH") == "" {
		t.Skip("set AMIBAKE_BENCH=1 (or run make bench)")
	}
	doc, err := pipelineDoc()
	if err != nil {
		t.Fatal(err)
	}
	s := loadSettings()
	if v, err := strconv.ParseFloat(os.Getenv("AMIBAKE_BENCH_SSM_SCALE"), 64); err == nil && v > 0 {
		s.scale = v
	} else {
		// Finer than the local scenarios: at 100x one simulated second of
		// API rate is 10 ms, within the scheduler's jitter.
		s.scale = 20
	}
	sc := scenarios()[0]
	for _, c := range scenarios() {
		if c.name == "typical" {
			sc = c
		}
	}
	r := runSSM(doc, s, sc)
	out := os.Stdout
	fmt.Fprintf(out, "\n== ssm: %d bakes at once with executor \"ssm\" (%s; 1 s real = %.0f s simulated)\n", s.concurrent, sc.about, s.scale)
	row := func(label, value string) { fmt.Fprintf(out, "%-44s %s\n", label, value) }
	row("failed bakes", fmt.Sprint(r.failed))
	row("wall/ideal (mean)", fmt.Sprintf("%.3f", mean(r.ratios)))
	row("wall/ideal (95th percentile)", fmt.Sprintf("%.3f", percentile(r.ratios, 0.95)))
	row("last bake done (simulated), ideal", fmt.Sprintf("%s, %s", r.makespan.Round(time.Second), r.idealMakespan.Round(time.Second)))
	row("most executions running at once", fmt.Sprintf("%d (quota %d)", r.maxRunning, simMaxConcurrent))
	row("automation API calls per bake", fmt.Sprintf("%.1f", r.calls))
	row("throttled automation responses", fmt.Sprint(r.throttled))
	ops := slices.Sorted(maps.Keys(r.peaks))
	within := true
	for _, op := range ops {
		quota, published := ssmexec.PublishedRates[op]
		note := "(rate not published)"
		if published {
			note = fmt.Sprintf("(published %g/s)", quota)
			if float64(r.peaks[op]) > quota {
				within = false
			}
		}
		row("  "+op, fmt.Sprintf("%.1f calls/bake, peak %d in one second %s", r.perOp[op], r.peaks[op], note))
	}
	row("EC2 and SSM calls of the executions, per bake", fmt.Sprintf("%.1f", r.cloudCalls))
	if r.firstErr != nil {
		fmt.Fprintf(out, "  first failure: %v\n", r.firstErr)
	}
	cm := mean(r.ratios)
	fmt.Fprintf(out, "summary ssm: amibake %d at once on SSM Automation: %d failed (%s), wall/ideal %.3f (target <= 1.10: %s), API rates within the published quotas (%s)\n",
		s.concurrent, r.failed, verdict(r.failed == 0), cm, verdict(cm <= 1.10 && len(r.ratios) > 0), verdict(within))
}

type ssmResult struct {
	ratios                  []float64
	failed                  int
	firstErr                error
	makespan, idealMakespan time.Duration
	maxRunning, throttled   int
	calls, cloudCalls       float64
	perOp                   map[string]float64
	peaks                   map[string]int
}

func runSSM(doc *document.Document, s settings, sc scenario) ssmResult {
	cloud := s.cloud(sc)
	policy := cloud.Policy(awsx.DefaultPolicy())
	// AWS's engine runs the executions; the provider follows and cleans up
	// with clients of its own.
	sim := newSimSSM(cloud, cloud.Clients(policy))
	provider := cloud.Clients(policy)
	provider.Raw = maps.Clone(provider.Raw)
	if provider.Raw == nil {
		provider.Raw = map[string]any{}
	}
	provider.Raw["ssm"] = sim
	real := func(d time.Duration) time.Duration { return cloud.Real(d) }
	rates := map[string]float64{}
	for _, op := range []string{"CreateDocument", "GetDocument", "DeleteDocument", "AddTagsToResource", "ListTagsForResource"} {
		rates[op] = 5 * s.scale
	}
	for op, r := range ssmexec.PublishedRates {
		rates[op] = r * ssmexec.Headroom * s.scale
	}
	follower := ssmexec.NewFollower(sim, ssmexec.FollowerOptions{
		Rates: rates, Initial: real(time.Second), Max: real(10 * time.Second), LimitBackoff: real(5 * time.Second),
	})

	type done struct {
		id  string
		end time.Duration // real, since t0
		err error
	}
	results := make([]done, s.concurrent)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range s.concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := ssmexec.Run(context.Background(), doc, map[string]string{"SourceAmiId": sourceImage(i)}, ssmexec.Options{
				Clients: provider, BakeKey: fmt.Sprintf("bench-%d", i), ImageOutput: "image.ImageId", Follower: follower,
				LeaseDuration: real(10 * time.Minute), CleanupTimeout: real(10 * time.Minute),
				OnEvent: func(engine.Event) {},
			})
			results[i] = done{id: res.ExecutionID, end: time.Since(t0), err: err}
		}()
	}
	wg.Wait()

	// The ideal schedule, in the order the executions started.
	byID := map[string]int{}
	for i, r := range results {
		byID[r.id] = i
	}
	sim.mu.Lock()
	order := slices.Clone(sim.order)
	maxRunning, throttled := sim.maxRunning, sim.throttled
	calls := map[string]int{}
	for op, ts := range sim.calls {
		calls[op] = len(ts)
	}
	sim.mu.Unlock()
	ideal := map[int]time.Duration{}
	var ends []time.Duration // ideal ends of running executions, a min-heap by sort
	var idealMakespan time.Duration
	for k, id := range order {
		i, ok := byID[id]
		if !ok {
			continue
		}
		start := time.Duration(k) * time.Second
		if len(ends) >= simMaxConcurrent {
			sort.Slice(ends, func(a, b int) bool { return ends[a] < ends[b] })
			start = max(start, ends[0])
			ends = ends[1:]
		}
		end := start + cloud.PlanFor(sourceImage(i)).Ideal()
		ends = append(ends, end)
		ideal[i] = end
		idealMakespan = max(idealMakespan, end)
	}

	out := ssmResult{maxRunning: maxRunning, throttled: throttled, idealMakespan: idealMakespan,
		perOp: map[string]float64{}, peaks: map[string]int{}}
	total := 0
	for op, n := range calls {
		out.perOp[op] = float64(n) / float64(s.concurrent)
		out.peaks[op] = sim.peakRate(op)
		total += n
	}
	out.calls = float64(total) / float64(s.concurrent)
	out.cloudCalls = float64(cloud.Stats().TotalCalls()) / float64(s.concurrent)
	for i, r := range results {
		if r.err != nil {
			if out.firstErr == nil {
				out.firstErr = r.err
			}
			out.failed++
			continue
		}
		wall := cloud.Sim(r.end)
		out.makespan = max(out.makespan, wall)
		if d, ok := ideal[i]; ok && d > 0 {
			out.ratios = append(out.ratios, float64(wall)/float64(d))
		}
	}
	return out
}
