package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// refreshImages is how many amibake_image resources the refresh measures.
const refreshImages = 100

// TestBenchRefresh times `terraform plan -refresh-only` of 100 amibake_image
// resources against moto_server, with the recipe inline and as a document,
// and of 100 resources of a minimal framework provider (testdata/minimal: one
// string attribute, a Read that only reads its state) built here from the same
// framework version, in the same run with the same CLI; it reports the median
// ratio to the minimal provider, of wall time and of CPU time (Terraform's and
// the provider's, steadier than wall time on a busy machine). The same images
// are refreshed through testdata/floor, amibake without a Read, which shows
// how much of the time is Terraform's and the provider process's. 100
// terraform_data (no provider process at all) are timed too, for information. The images are made in the emulator
// directly and adopted with import blocks, which takes seconds where baking
// them would take minutes.
//
// Needs AMIBAKE_BENCH=1, AMIBAKE_BENCH_TERRAFORM (the CLI) and moto_server on
// PATH; AMIBAKE_BENCH_PROVIDER_DIR may hold a provider built with go build,
// else one is built here.
func TestBenchRefresh(t *testing.T) {
	if os.Getenv("AMIBAKE_BENCH") == "" {
		t.Skip("set AMIBAKE_BENCH=1 (or run make bench)")
	}
	tf := os.Getenv("AMIBAKE_BENCH_TERRAFORM")
	if tf == "" {
		t.Skip("set AMIBAKE_BENCH_TERRAFORM to a Terraform CLI (make bench uses .tools/bin/terraform)")
	}
	reps := 5
	if v, err := strconv.Atoi(os.Getenv("AMIBAKE_BENCH_REFRESH_REPS")); err == nil && v > 0 {
		reps = v
	}
	work := t.TempDir()
	providerDir := os.Getenv("AMIBAKE_BENCH_PROVIDER_DIR")
	if providerDir == "" {
		providerDir = filepath.Join(work, "provider")
		build := exec.Command("go", "build", "-o", filepath.Join(providerDir, "terraform-provider-amibake"), ".")
		build.Dir = filepath.Join("..", "..")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build of the provider: %v\n%s", err, out)
		}
	}
	providerDir, _ = filepath.Abs(providerDir)
	minimalDir := filepath.Join(work, "minimal")
	floorDir := filepath.Join(work, "floor")
	for _, b := range []struct{ dir, name string }{{minimalDir, "minimal"}, {floorDir, "floor"}} {
		build := exec.Command("go", "build", "-o", filepath.Join(b.dir, "terraform-provider-"+b.name), "./internal/bench/testdata/"+b.name)
		build.Dir = filepath.Join("..", "..")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build of the %s provider: %v\n%s", b.name, err, out)
		}
	}

	moto := acctest.StartMoto(t)
	proxy := newCountingProxy(t, moto.Endpoint())
	images := makeImages(t, moto.Endpoint(), refreshImages)

	cliConfig := filepath.Join(work, "cli.tfrc")
	writeFile(t, cliConfig, fmt.Sprintf(`provider_installation {
  dev_overrides {
    "registry.terraform.io/amibake/amibake" = %q
    "registry.terraform.io/amibake/minimal" = %q
    "registry.terraform.io/amibake/floor" = %q
  }
  direct {}
}
`, providerDir, minimalDir, floorDir))
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_LOG=")
	for k, v := range moto.Env() {
		if k == "AWS_ENDPOINT_URL" {
			v = proxy.URL
		}
		env = append(env, k+"="+v)
	}

	// The order is the one reportRefresh reads: the minimal provider first.
	configs := []refreshConfig{
		{name: fmt.Sprintf("%d minimal_value", refreshImages), body: minimalConfig(refreshImages)},
		{name: fmt.Sprintf("%d amibake_image, inline steps", refreshImages), body: imageConfig(images, false)},
		{name: fmt.Sprintf("%d amibake_image, document", refreshImages), body: imageConfig(images, true)},
		{name: "1 amibake_image, inline steps", body: imageConfig(images[:1], false)},
		{name: fmt.Sprintf("%d terraform_data", refreshImages), body: terraformData(refreshImages)},
		{name: fmt.Sprintf("floor: %d, inline steps", refreshImages), body: floorConfig(imageConfig(images, false)), stateOf: 1},
		{name: fmt.Sprintf("floor: %d, document", refreshImages), body: floorConfig(imageConfig(images, true)), stateOf: 2},
	}
	for i := range configs {
		c := &configs[i]
		c.dir = filepath.Join(work, fmt.Sprintf("config%d", i))
		writeFile(t, filepath.Join(c.dir, "main.tf"), c.body)
		if c.stateOf > 0 {
			// The floor provider has no Read to import with: it starts from
			// the real provider's state.
			state, err := os.ReadFile(filepath.Join(configs[c.stateOf].dir, "terraform.tfstate"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(c.dir, "terraform.tfstate"),
				strings.ReplaceAll(string(state), "registry.terraform.io/amibake/amibake", "registry.terraform.io/amibake/floor"))
			continue
		}
		if out, err := terraform(tf, c.dir, env, "apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=20"); err != nil {
			t.Fatalf("%s: terraform apply: %v\n%s", c.name, err, out)
		}
	}
	for rep := range reps {
		// Rotate the order, so that a slow moment of the machine is shared.
		for k := range configs {
			c := &configs[(rep+k)%len(configs)]
			proxy.reset()
			start := time.Now()
			cmd := terraformCmd(tf, c.dir, env, "plan", "-refresh-only", "-input=false", "-no-color", "-lock=false")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: terraform plan -refresh-only: %v\n%s", c.name, err, out)
			}
			c.times = append(c.times, time.Since(start))
			c.cpu = append(c.cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
			c.calls = proxy.snapshot()
		}
	}
	reportRefresh(os.Stdout, configs, reps)
}

type refreshConfig struct {
	name, body, dir string
	stateOf         int // index of the configuration whose state this one starts from, instead of applying
	times           []time.Duration
	// cpu is the CPU time of each refresh, Terraform's and the provider's
	// (a child that Terraform waits for): on a busy machine it varies less
	// than the wall time.
	cpu   []time.Duration
	calls map[string]int // API calls of the last refresh, by action
}

func reportRefresh(out io.Writer, cs []refreshConfig, reps int) {
	base := cs[0]
	fmt.Fprintf(out, "\n== refresh: terraform plan -refresh-only against moto_server, %d runs each, interleaved\n", reps)
	fmt.Fprintf(out, "%-36s %10s %16s %10s %16s   %s\n", "", "median", "/ minimal_value", "CPU", "/ minimal_value", "API calls per refresh")
	ratios := make([][]float64, len(cs))
	for i, c := range cs {
		var cpuRatios []float64
		for r := range c.times {
			ratios[i] = append(ratios[i], c.times[r].Seconds()/base.times[r].Seconds())
			cpuRatios = append(cpuRatios, c.cpu[r].Seconds()/base.cpu[r].Seconds())
		}
		fmt.Fprintf(out, "%-36s %9.2fs %16.2f %9.2fs %16.2f   %s\n", c.name, medianDur(c.times).Seconds(), median(ratios[i]),
			medianDur(c.cpu).Seconds(), median(cpuRatios), callsText(c.calls))
	}
	inline, doc := median(ratios[1]), median(ratios[2])
	floorInline, floorDoc := median(ratios[5]), median(ratios[6])
	// One image against no provider process at all: starting and configuring the provider.
	fixed := medianDur(cs[3].times) - medianDur(cs[4].times)
	perRead := (medianDur(cs[1].times) - medianDur(cs[3].times)) / time.Duration(refreshImages-1)
	fmt.Fprintf(out, "summary refresh: %d amibake_image take %.2f x (inline steps, target <= 1.5: %s) and %.2f x (document, target <= 1.5: %s) "+
		"the time of %d minimal_value of a minimal framework provider; starting and configuring the provider costs %s "+
		"and each further Read %s (inline steps); %s for the %d Reads\n",
		refreshImages, inline, verdict(inline <= 1.5), doc, verdict(doc <= 1.5), refreshImages,
		fixed.Round(time.Millisecond), perRead.Round(100*time.Microsecond), callsText(cs[1].calls), refreshImages)
	fmt.Fprintf(out, "summary refresh floor: the same %d amibake_image with a Read that returns its state unchanged (testdata/floor) "+
		"take %.2f x (inline steps) and %.2f x (document) the time of the minimal provider: what Terraform's handling of "+
		"the schema and the provider process cost before any Read\n", refreshImages, floorInline, floorDoc)
}

func callsText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func median(xs []float64) float64 { return percentile(xs, 0.5) }

func medianDur(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(median(xs))
}

func terraform(bin, dir string, env []string, args ...string) ([]byte, error) {
	return terraformCmd(bin, dir, env, args...).CombinedOutput()
}

func terraformCmd(bin, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	return cmd
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// minimalConfig declares n resources of the minimal provider (testdata/minimal).
func minimalConfig(n int) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    minimal = {
      source = "amibake/minimal"
    }
  }
}

resource "minimal_value" "v" {
  count = %d
  value = "value-${count.index}"
}
`, n)
}

func terraformData(n int) string {
	return fmt.Sprintf("resource \"terraform_data\" \"d\" {\n  count = %d\n  input = count.index\n}\n", n)
}

// floorConfig is an amibake_image configuration served by the floor provider
// (testdata/floor): the same resource type under another provider source.
func floorConfig(config string) string {
	return strings.Replace(config, `source = "amibake/amibake"`, `source = "amibake/floor"`, 1)
}

// imageConfig adopts the given images, with the recipe written as inline
// steps or as an SSM document.
func imageConfig(images []string, document bool) string {
	var b strings.Builder
	b.WriteString(acctest.RequiredProviders)
	b.WriteString("provider \"amibake\" {}\n\n")
	fmt.Fprintf(&b, "resource \"amibake_image\" \"img\" {\n  count = %d\n", len(images))
	if document {
		b.WriteString(`  document = jsonencode({
    schemaVersion = "0.3"
    mainSteps = [
      { name = "launch", action = "aws:runInstances", inputs = { ImageId = "ami-12c6146b", InstanceType = "t3.micro" } },
      { name = "image", action = "aws:createImage", inputs = { InstanceId = "{{ launch.InstanceIds }}", ImageName = "bench-${count.index}-{{ automation:EXECUTION_ID }}" } },
    ]
  })
`)
	} else {
		b.WriteString(`  step {
    name = "launch"
    run_instances {
      image_id      = "ami-12c6146b"
      instance_type = "t3.micro"
    }
  }
  step {
    name = "image"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "bench-${count.index}-{{ automation:EXECUTION_ID }}"
    }
  }
`)
	}
	b.WriteString("}\n")
	for i, id := range images {
		fmt.Fprintf(&b, "\nimport {\n  to = amibake_image.img[%d]\n  id = %q\n}\n", i, id)
	}
	return b.String()
}

// makeImages creates n AMIs in the emulator, each from its own instance.
func makeImages(t *testing.T, endpoint string, n int) []string {
	t.Helper()
	ctx := context.Background()
	c := ec2.New(ec2.Options{
		Region:       acctest.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	res, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(int32(n)), MaxCount: aws.Int32(int32(n)),
	})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	var ids []string
	for i, in := range res.Instances {
		img, err := c.CreateImage(ctx, &ec2.CreateImageInput{
			InstanceId: in.InstanceId, Name: aws.String(fmt.Sprintf("refresh-bench-%03d", i)),
		})
		if err != nil {
			t.Fatalf("CreateImage: %v", err)
		}
		ids = append(ids, aws.ToString(img.ImageId))
	}
	return ids
}

// countingProxy forwards to the emulator and counts API calls by action (the
// Action of query protocols, the X-Amz-Target of JSON ones).
type countingProxy struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{calls: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := r.Header.Get("X-Amz-Target")
		if action == "" && r.Body != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if q, err := url.ParseQuery(string(body)); err == nil {
				action = q.Get("Action")
			}
		}
		if action != "" {
			p.mu.Lock()
			p.calls[action]++
			p.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *countingProxy) reset() {
	p.mu.Lock()
	p.calls = map[string]int{}
	p.mu.Unlock()
}

func (p *countingProxy) snapshot() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.calls))
	for k, v := range p.calls {
		out[k] = v
	}
	return out
}
