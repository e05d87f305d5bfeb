package actions

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// sleep is aws:sleep: for an ISO 8601 Duration or until a Timestamp.
type sleep struct{}

func init() { register("aws:sleep", sleep{}) }

// maxSleep is SSM's limit for aws:sleep.
const maxSleep = 7 * 24 * time.Hour

func (sleep) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	d, err := sleepDuration(in, time.Now())
	if err != nil {
		return Result{}, err
	}
	if d <= 0 {
		return Result{Outputs: map[string]any{}}, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return Result{Outputs: map[string]any{}}, nil
	case <-ctx.Done():
		return Result{}, fmt.Errorf("sleep of %s interrupted: %w", d, ctx.Err())
	}
}

func sleepDuration(in map[string]any, now time.Time) (time.Duration, error) {
	dur, ts := str(in, "Duration"), str(in, "Timestamp")
	var d time.Duration
	switch {
	case dur != "" && ts != "":
		return 0, fmt.Errorf("give either Duration or Timestamp, not both")
	case dur != "":
		var err error
		if d, err = ParseDuration(dur); err != nil {
			return 0, fmt.Errorf("input Duration: %w", err)
		}
	case ts != "":
		t, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			return 0, fmt.Errorf("input Timestamp: want an ISO 8601 time like 2024-01-31T12:00:00Z, got %q", ts)
		}
		d = t.Sub(now)
	default:
		return 0, fmt.Errorf("one of the inputs Duration or Timestamp is required")
	}
	if d > maxSleep {
		return 0, fmt.Errorf("sleep of %s exceeds the 7 day limit", d)
	}
	return d, nil
}

var isoDuration = regexp.MustCompile(`^P(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$`)

// ParseDuration parses an ISO 8601 duration of weeks, days, hours, minutes and
// seconds (PT10M, PT1.5S, P1DT2H). Years and months are refused: their length
// depends on the calendar.
func ParseDuration(s string) (time.Duration, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	m := isoDuration.FindStringSubmatch(u)
	if m == nil || u == "P" || strings.HasSuffix(u, "T") {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration like PT10M, PT1.5S or P1DT2H (years and months are not allowed)", s)
	}
	units := []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second}
	var total float64
	for i, unit := range units {
		if m[i+1] == "" {
			continue
		}
		f, err := strconv.ParseFloat(strings.Replace(m[i+1], ",", ".", 1), 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
		total += f * float64(unit)
	}
	return time.Duration(total), nil
}
