// Command ssm-automation-emulator serves the SSM Automation execution API
// (StartAutomationExecution and friends), which moto_server lacks, in front
// of a moto_server: run it next to moto and point the AWS SDK's SSM endpoint
// (or every endpoint) at it. Requests it does not answer itself go to moto
// unchanged. Executions run inside this process with the provider's engine,
// making their EC2 effects in moto, and go on when the client that started
// them exits. Pointed at by every endpoint, it also answers the EC2 calls
// moto lacks for image distribution (image deprecation, deregistration
// protection, encrypted copies, snapshot CreateVolumePermission changes).
//
//	moto_server -p 5000 &
//	go run ./tools/ssm-automation-emulator -moto http://127.0.0.1:5000 -listen 127.0.0.1:5001
//	AWS_ENDPOINT_URL=http://127.0.0.1:5001 terraform apply
//
// Quotas default to AWS's published ones (100 concurrent executions, a
// queue of 5,000, 1 StartAutomationExecution a second...); the flags make
// them small for tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/ssmemu"
)

// rates collects -rate Operation=TPS flags.
type rates map[string]float64

func (r rates) String() string {
	var parts []string
	for op, tps := range r {
		parts = append(parts, op+"="+strconv.FormatFloat(tps, 'f', -1, 64))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (r rates) Set(s string) error {
	op, v, ok := strings.Cut(s, "=")
	tps, err := strconv.ParseFloat(v, 64)
	if !ok || err != nil {
		return fmt.Errorf("want Operation=TPS, e.g. StartAutomationExecution=5, not %q", s)
	}
	if _, known := ssmemu.DefaultRates[op]; !known {
		return fmt.Errorf("%s is not a throttled operation; the throttled ones are %s", op, strings.Join(throttled(), ", "))
	}
	r[op] = tps
	return nil
}

func throttled() []string {
	var ops []string
	for op := range ssmemu.DefaultRates {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	if err := run(); err != nil {
		log.Fatalf("ssm-automation-emulator: %v", err)
	}
}

func run() error {
	var (
		cfg      ssmemu.Config
		rateFlag = rates{}
		listen   = flag.String("listen", "127.0.0.1:5001", "address to serve on (host:port; port 0 picks a free one)")
		quiet    = flag.Bool("quiet", false, "do not log execution events")
		lifeline = flag.Bool("exit-with-stdin", false, "exit when standard input closes (for a parent process that may die without stopping this one)")
	)
	flag.StringVar(&cfg.MotoEndpoint, "moto", envOr("MOTO_ENDPOINT", "http://127.0.0.1:5000"), "moto_server base URL (default from MOTO_ENDPOINT)")
	flag.StringVar(&cfg.Region, "region", envOr("AWS_REGION", "us-east-1"), "region of the executions' AWS clients")
	flag.IntVar(&cfg.MaxConcurrent, "max-concurrent", ssmemu.DefaultMaxConcurrent, "concurrently running executions; more wait as Pending")
	flag.IntVar(&cfg.MaxQueued, "max-queued", ssmemu.DefaultMaxQueued, "executions that may wait as Pending (-1: none); a start past it answers AutomationExecutionLimitExceededException")
	flag.Var(rateFlag, "rate", "transactions per second of one operation, Operation=TPS (repeatable; 0 turns its throttling off); defaults: "+rates(ssmemu.DefaultRates).String())
	flag.BoolVar(&cfg.NoThrottle, "no-throttle", false, "turn API throttling off")
	flag.IntVar(&cfg.StepExecutionsInGet, "step-executions-in-get", 50, "step executions GetAutomationExecution returns before StepExecutionsTruncated")
	flag.DurationVar(&cfg.HistoryRetention, "history-retention", ssmemu.DefaultHistoryRetention, "how long finished executions stay visible")
	flag.DurationVar(&cfg.UserContextMaxDuration, "max-duration", ssmemu.DefaultUserContextMaxDuration, "time limit of an execution whose document has no assumeRole (it then ends TimedOut)")
	flag.BoolVar(&cfg.IgnoreAssumeRole, "ignore-assume-role", false, "run every execution with the emulator's credentials instead of assuming the document's assumeRole through moto's STS")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = -1 // -max-queued 0 means no queue, as -1 does
	}
	cfg.Rates = rateFlag
	if !*quiet {
		cfg.Logf = log.Printf
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *lifeline {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			log.Print("standard input closed: stopping")
			stop()
		}()
	}

	setupCtx, cancel := context.WithTimeout(ctx, time.Minute)
	emu, err := ssmemu.New(setupCtx, cfg)
	cancel()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		emu.Close()
		return err
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// The one line on standard output: where to send requests.
	fmt.Printf("listening on http://%s\n", ln.Addr())
	log.Printf("SSM Automation emulator on http://%s in front of moto at %s", ln.Addr(), cfg.MotoEndpoint)

	select {
	case <-ctx.Done():
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			emu.Close()
			return err
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	// Executions still running end Cancelled, as the emulator's state dies
	// with it.
	emu.Close()
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
