package acctest

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func skipIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts moto_server")
	}
}

// ec2Query calls the EC2 query API the way the SDK would, minus the
// signature: moto does not verify it but routes on the credential scope.
func ec2Query(t *testing.T, m *Moto, action string, params url.Values) []byte {
	t.Helper()
	if params == nil {
		params = url.Values{}
	}
	params.Set("Action", action)
	params.Set("Version", "2016-11-15")
	req, err := http.NewRequest(http.MethodPost, m.Endpoint()+"/", strings.NewReader(params.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20240101/"+Region+"/ec2/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading response: %v", action, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", action, resp.StatusCode, body)
	}
	return body
}

func describeImages(t *testing.T, m *Moto, ids ...string) map[string]string {
	t.Helper()
	params := url.Values{}
	for i, id := range ids {
		params.Set("ImageId."+strconv.Itoa(i+1), id)
	}
	var out struct {
		Images []struct {
			ID    string `xml:"imageId"`
			State string `xml:"imageState"`
		} `xml:"imagesSet>item"`
	}
	if err := xml.Unmarshal(ec2Query(t, m, "DescribeImages", params), &out); err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	states := map[string]string{}
	for _, img := range out.Images {
		states[img.ID] = img.State
	}
	return states
}

func keyPairNames(t *testing.T, m *Moto) []string {
	t.Helper()
	var out struct {
		Names []string `xml:"keySet>item>keyName"`
	}
	if err := xml.Unmarshal(ec2Query(t, m, "DescribeKeyPairs", nil), &out); err != nil {
		t.Fatalf("DescribeKeyPairs: %v", err)
	}
	slices.Sort(out.Names)
	return out.Names
}

func lambdaUsesDocker(t *testing.T, m *Moto) bool {
	t.Helper()
	resp, err := http.Get(m.Endpoint() + "/moto-api/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg struct {
		Lambda struct {
			UseDocker *bool `json:"use_docker"`
		} `json:"lambda"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		t.Fatalf("decoding /moto-api/config: %v", err)
	}
	if cfg.Lambda.UseDocker == nil {
		t.Fatal("/moto-api/config has no lambda.use_docker")
	}
	return *cfg.Lambda.UseDocker
}

func answers(endpoint string) bool {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := c.Get(endpoint + "/moto-api/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// waitSilent reports whether endpoint stops answering within d.
func waitSilent(endpoint string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !answers(endpoint) {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func TestMotoStarts(t *testing.T) {
	skipIfShort(t)
	start := time.Now()
	m := StartMoto(t)
	t.Logf("moto_server ready at %s in %s", m.Endpoint(), time.Since(start).Round(time.Millisecond))

	if !strings.HasPrefix(m.Endpoint(), "http://127.0.0.1:") {
		t.Errorf("Endpoint() = %q, want a loopback URL", m.Endpoint())
	}
	if lambdaUsesDocker(t, m) {
		t.Error("lambda.use_docker is true after start, want false")
	}

	got := describeImages(t, m, "ami-12c6146b", "ami-760aaa0f")
	want := map[string]string{"ami-12c6146b": "available", "ami-760aaa0f": "available"}
	if len(got) != len(want) || got["ami-12c6146b"] != "available" || got["ami-760aaa0f"] != "available" {
		t.Errorf("DescribeImages = %v, want %v", got, want)
	}

	var regions struct {
		Names []string `xml:"regionInfo>item>regionName"`
	}
	if err := xml.Unmarshal(ec2Query(t, m, "DescribeRegions", nil), &regions); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(regions.Names, Region) {
		t.Errorf("DescribeRegions = %v, want it to include %s", regions.Names, Region)
	}
}

func TestMotoReset(t *testing.T) {
	skipIfShort(t)
	m := StartMoto(t)

	ec2Query(t, m, "CreateKeyPair", url.Values{"KeyName": {"acctest-reset"}})
	if got := keyPairNames(t, m); !slices.Equal(got, []string{"acctest-reset"}) {
		t.Fatalf("key pairs before reset = %v, want [acctest-reset]", got)
	}

	m.Reset(t)

	if got := keyPairNames(t, m); len(got) != 0 {
		t.Errorf("key pairs after reset = %v, want none", got)
	}
	if lambdaUsesDocker(t, m) {
		t.Error("lambda.use_docker is true after reset, want false")
	}
}

func TestMotoEnv(t *testing.T) {
	m := &Moto{endpoint: "http://127.0.0.1:4566"}
	want := map[string]string{
		"AWS_ENDPOINT_URL":          "http://127.0.0.1:4566",
		"AWS_REGION":                "us-east-1",
		"AWS_ACCESS_KEY_ID":         "test",
		"AWS_SECRET_ACCESS_KEY":     "test",
		"AWS_SESSION_TOKEN":         "",
		"AWS_PROFILE":               "",
		"AWS_EC2_METADATA_DISABLED": "true",
	}
	got := m.Env()
	if len(got) != len(want) {
		t.Errorf("Env() has %d entries, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Env()[%s] = %q, want %q", k, got[k], v)
		}
	}

	t.Run("SetEnv", func(t *testing.T) {
		t.Setenv("AWS_PROFILE", "production")
		m.SetEnv(t)
		for k, v := range want {
			if got := os.Getenv(k); got != v {
				t.Errorf("after SetEnv %s = %q, want %q", k, got, v)
			}
		}
	})
}

func TestMotoShared(t *testing.T) {
	skipIfShort(t)
	a, stopA, err := SharedMoto()
	if err != nil {
		t.Fatal(err)
	}
	b, stopB, err := SharedMoto()
	if err != nil {
		stopA()
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("SharedMoto returned two servers: %s and %s", a.Endpoint(), b.Endpoint())
	}
	stopA()
	stopA() // a second call must not release b's reference
	if !answers(b.Endpoint()) {
		t.Fatal("shared server stopped while a user still holds it")
	}
	stopB()
	if !waitSilent(b.Endpoint(), 5*time.Second) {
		t.Error("shared server still answers after every user released it")
	}

	c, stopC, err := SharedMoto()
	if err != nil {
		t.Fatal(err)
	}
	defer stopC()
	if c == a || !answers(c.Endpoint()) {
		t.Errorf("SharedMoto after full release returned %p (old %p), answering=%v; want a fresh running server", c, a, answers(c.Endpoint()))
	}
}

func TestMotoMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := startMoto()
	if err == nil {
		t.Fatal("startMoto succeeded without moto_server on PATH")
	}
	if errors.Is(err, errExitedEarly) || !strings.Contains(err.Error(), "moto_server not found on PATH") {
		t.Errorf("error = %q, want it to say moto_server is not on PATH", err)
	}
}
