package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

// pipeline is the six-step recipe every benchmark bake runs: launch, run a
// command, stop, create the image, tag it, terminate the builder.
const pipeline = `{
  "schemaVersion": "0.3",
  "description": "benchmark bake",
  "parameters": {"SourceAmiId": {"type": "String"}},
  "mainSteps": [
    {"name": "launch", "action": "aws:runInstances",
     "inputs": {"ImageId": "{{ SourceAmiId }}", "InstanceType": "t3.micro"}},
    {"name": "update", "action": "aws:runCommand",
     "inputs": {"DocumentName": "AWS-RunShellScript", "InstanceIds": ["{{ launch.InstanceIds }}"],
                "Parameters": {"commands": ["dnf -y upgrade"]}}},
    {"name": "stop", "action": "aws:changeInstanceState",
     "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "stopped"}},
    {"name": "image", "action": "aws:createImage",
     "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "bench-{{ automation:EXECUTION_ID }}"}},
    {"name": "tag", "action": "aws:createTags",
     "inputs": {"ResourceIds": ["{{ image.ImageId }}"], "Tags": [{"Key": "Name", "Value": "bench"}]}},
    {"name": "terminate", "action": "aws:changeInstanceState",
     "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "terminated"}}
  ],
  "outputs": ["image.ImageId"]
}`

func pipelineDoc() (*document.Document, error) { return document.Parse([]byte(pipeline)) }

// contender is a wait policy under test, in real (unscaled) time.
type contender struct {
	name   string
	policy awsx.Policy
	// alone: every bake waits on its own, as other tools do (see clients).
	alone bool
}

// contenders: amibake's own policy with its batching watchers, and the peers'
// policies, each bake polling alone as those tools do.
func contenders() []contender {
	all := []contender{
		{name: "amibake", policy: awsx.DefaultPolicy()},
		// Packer amazon-ebs (AWS SDK waiters): 15 s doubling to 120 s.
		{name: "packer", policy: awsx.Policy{Initial: 15 * time.Second, Max: 120 * time.Second, Factor: 2}, alone: true},
		// terraform-provider-aws's generic state waiter: 100 ms doubling to 10 s.
		{name: "tf-aws", policy: awsx.Policy{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Factor: 2}, alone: true},
	}
	return only(all, "AMIBAKE_BENCH_POLICIES", func(c contender) string { return c.name })
}

// clients is the bundle a bake of c runs with. amibake's is built once per
// process (shared is nil the first time) and shared by every bake in it, as in
// the provider. A peer's bake gets a bundle of its own, with no window (the
// peers' policies have none) and no Pacer, sharing nothing with other bakes;
// it follows its command's invocation and probes the agent with SendCommand
// itself, without the batched ListCommands and DescribeInstanceInformation.
func (c contender) clients(cloud *simcloud.Cloud, shared *awsx.Clients) *awsx.Clients {
	if !c.alone {
		if shared == nil {
			shared = cloud.Clients(cloud.Policy(c.policy))
		}
		return shared
	}
	cl := cloud.Clients(cloud.Policy(c.policy))
	cl.Commands, cl.Agents = nil, nil
	return cl
}

// only keeps the items named in the comma-separated environment variable, or
// all when it is unset.
func only[T any](all []T, env string, name func(T) string) []T {
	v := os.Getenv(env)
	if v == "" {
		return all
	}
	var out []T
	for _, x := range all {
		if slices.Contains(strings.Split(v, ","), name(x)) {
			out = append(out, x)
		}
	}
	return out
}

type scenario struct {
	name      string
	about     string
	durations simcloud.Durations
	// instant: an emulator, whose changes take no time; the scenario runs in
	// real time and measures what a bake adds over the emulator's own time.
	instant bool
}

func scenarios() []scenario {
	all := []scenario{
		{name: "typical", about: "AWS durations as expected", durations: simcloud.Typical()},
		{name: "5x-faster", about: "every transition 5x faster than expected", durations: simcloud.Typical().Faster(5)},
		{name: "instant", about: "an emulator: every change done when its call returns, 2-8 ms per call, real time",
			durations: simcloud.Instant(), instant: true},
	}
	return only(all, "AMIBAKE_BENCH_SCENARIOS", func(s scenario) string { return s.name })
}

// settings of a benchmark run, from the environment.
type settings struct {
	scale      float64 // simulated seconds per real second
	seed       uint64
	singles    int // single bakes per scenario and policy, each alone in its own cloud
	concurrent int // bakes at once in one process and one cloud
}

func loadSettings() settings {
	s := settings{scale: 100, seed: 1, singles: 12, concurrent: 200}
	if v, err := strconv.ParseFloat(os.Getenv("AMIBAKE_BENCH_SCALE"), 64); err == nil && v > 0 {
		s.scale = v
	}
	if v, err := strconv.ParseUint(os.Getenv("AMIBAKE_BENCH_SEED"), 10, 64); err == nil {
		s.seed = v
	}
	if v, err := strconv.Atoi(os.Getenv("AMIBAKE_BENCH_SINGLES")); err == nil && v > 0 {
		s.singles = v
	}
	if v, err := strconv.Atoi(os.Getenv("AMIBAKE_BENCH_CONCURRENT")); err == nil && v > 0 {
		s.concurrent = v
	}
	return s
}

func (s settings) cloud(sc scenario) *simcloud.Cloud {
	if sc.instant {
		// Like moto_server on this machine, in real time.
		return simcloud.New(simcloud.Config{
			Seed:      s.seed,
			Durations: sc.durations,
			Scale:     1,
			Latency:   simcloud.Range{Min: 2 * time.Millisecond, Max: 8 * time.Millisecond},
		})
	}
	return simcloud.New(simcloud.Config{
		Seed:      s.seed,
		Durations: sc.durations,
		Scale:     s.scale,
		Latency:   simcloud.Range{Min: 50 * time.Millisecond, Max: 150 * time.Millisecond},
	})
}

// sourceImage names bake i; the cloud draws the bake's durations from it.
func sourceImage(i int) string { return fmt.Sprintf("ami-0bench%07d", i) }

type bakeResult struct {
	ratio float64       // wall / ideal
	wall  time.Duration // simulated
	err   error
	// late is how much longer than AWS's own time each step took (simulated).
	late map[string]time.Duration
}

// bake runs the pipeline once and measures it in simulated time.
func bake(ctx context.Context, doc *document.Document, cloud *simcloud.Cloud, clients *awsx.Clients, i int) bakeResult {
	src := sourceImage(i)
	ideal := cloud.PlanFor(src).Ideal()
	// A generous bound: a bake stuck for three ideal durations has failed.
	ctx, cancel := context.WithTimeout(ctx, cloud.Real(3*ideal+10*time.Minute))
	defer cancel()
	plan := cloud.PlanFor(src)
	aws := map[string]time.Duration{
		"launch": plan.Launch, "update": plan.Agent + plan.Command, "stop": plan.Stop,
		"image": plan.Image, "tag": 0, "terminate": plan.Terminate,
	}
	late := map[string]time.Duration{}
	onEvent := func(e engine.Event) {
		if e.Kind == engine.EventStepEnd {
			late[e.Step] = cloud.Sim(e.Elapsed) - aws[e.Step]
		}
	}
	start := time.Now()
	_, err := engine.Run(ctx, doc, map[string]string{"SourceAmiId": src}, engine.Options{
		Clients: clients, CleanupTimeout: cloud.Real(10 * time.Minute), OnEvent: onEvent,
	})
	wall := cloud.Sim(time.Since(start))
	late["other"] = wall - ideal
	for step, d := range late {
		if step != "other" {
			late["other"] -= d
		}
	}
	return bakeResult{ratio: float64(wall) / float64(ideal), wall: wall, err: err, late: late}
}

// lateness averages the per-step lateness of bakes, in simulated seconds.
func lateness(rs []bakeResult) string {
	sum := map[string]time.Duration{}
	for _, r := range rs {
		for k, v := range r.late {
			sum[k] += v
		}
	}
	var parts []string
	for _, step := range []string{"launch", "update", "stop", "image", "tag", "terminate", "other"} {
		parts = append(parts, fmt.Sprintf("%s %.1fs", step, sum[step].Seconds()/float64(max(len(rs), 1))))
	}
	return strings.Join(parts, ", ")
}

// singleResult is the mean over several bakes, each alone in its own cloud
// and process-wide state (as one `terraform apply` of one image).
type singleResult struct {
	perOp  map[string]float64 // calls per bake, by operation
	bakes  []bakeResult
	ratios []float64
	// added is, per bake, its wall time less the cloud's own time (seconds).
	added  []float64
	calls  float64 // per bake
	failed int
}

func runSingles(doc *document.Document, s settings, sc scenario, c contender) singleResult {
	var mu sync.Mutex
	var out singleResult
	calls := 0
	var wg sync.WaitGroup
	for i := range s.singles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cloud := s.cloud(sc)
			r := bake(context.Background(), doc, cloud, c.clients(cloud, nil), i)
			mu.Lock()
			defer mu.Unlock()
			st := cloud.Stats()
			calls += st.TotalCalls()
			if out.perOp == nil {
				out.perOp = map[string]float64{}
			}
			for op, n := range st.Calls {
				out.perOp[op] += float64(n) / float64(s.singles)
			}
			out.bakes = append(out.bakes, r)
			if r.err != nil {
				out.failed++
				return
			}
			out.ratios = append(out.ratios, r.ratio)
			out.added = append(out.added, (r.wall - st.Busy).Seconds())
		}()
	}
	wg.Wait()
	out.calls = float64(calls) / float64(s.singles)
	return out
}

type concurrentResult struct {
	bakes     []bakeResult
	ratios    []float64
	failed    int
	firstErr  error
	calls     float64 // per bake
	throttled int
	peakHeap  uint64
	stats     simcloud.Stats
}

// runConcurrent runs every bake at once in one process and one cloud: for
// amibake, one client bundle, so one set of watchers and one Pacer, as one
// `terraform apply` of many images would.
func runConcurrent(doc *document.Document, s settings, sc scenario, c contender) concurrentResult {
	runtime.GC()
	cloud := s.cloud(sc)
	shared := c.clients(cloud, nil)

	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m runtime.MemStats
		var max uint64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > max {
				max = m.HeapInuse
			}
			select {
			case <-stop:
				peak <- max
				return
			case <-t.C:
			}
		}
	}()

	results := make([]bakeResult, s.concurrent)
	var wg sync.WaitGroup
	for i := range s.concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = bake(context.Background(), doc, cloud, c.clients(cloud, shared), i)
		}()
	}
	wg.Wait()
	close(stop)

	out := concurrentResult{peakHeap: <-peak, stats: cloud.Stats(), bakes: results}
	for _, r := range results {
		if r.err != nil {
			if out.firstErr == nil {
				out.firstErr = r.err
			}
			out.failed++
			continue
		}
		out.ratios = append(out.ratios, r.ratio)
	}
	out.calls = float64(out.stats.TotalCalls()) / float64(s.concurrent)
	out.throttled = out.stats.TotalThrottled()
	return out
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[int(p*float64(len(s)-1)+0.5)]
}
