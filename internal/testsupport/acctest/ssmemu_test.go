package acctest

import (
	"os"
	"testing"
)

func TestSSMEmulatorEnv(t *testing.T) {
	e := &SSMEmulator{endpoint: "http://127.0.0.1:5001", moto: &Moto{endpoint: "http://127.0.0.1:4566"}}
	want := e.moto.Env()
	want["AWS_ENDPOINT_URL"] = "http://127.0.0.1:5001"
	got := e.Env()
	if len(got) != len(want) {
		t.Errorf("Env() has %d entries, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Env()[%s] = %q, want %q", k, got[k], v)
		}
	}
	if m := e.moto.Env()["AWS_ENDPOINT_URL"]; m != "http://127.0.0.1:4566" {
		t.Errorf("Env changed moto's endpoint to %q", m)
	}

	t.Run("SetEnv", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL", "https://ec2.amazonaws.com")
		e.SetEnv(t)
		for k, v := range want {
			if got := os.Getenv(k); got != v {
				t.Errorf("after SetEnv %s = %q, want %q", k, got, v)
			}
		}
	})
}
