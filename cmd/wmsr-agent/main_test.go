package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wmsr/wmsr/attest"
)

func runT(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runContext(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runT(t, "version")
	if code != 0 || !strings.Contains(out, "wmsr-agent") || !strings.Contains(out, "go1.") {
		t.Fatalf("code %d, out %q", code, out)
	}
}

func TestUnknownFlagIsUsage(t *testing.T) {
	if code, _, _ := runT(t, "version", "--nope"); code != exitUsage {
		t.Fatalf("code %d, want %d", code, exitUsage)
	}
}

// clearEnv unsets every WMSR_ variable for the test.
func clearEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "WMSR_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func resolved(t *testing.T, out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, rest, _ := strings.Cut(l, "=")
		m[k] = rest
	}
	return m
}

func TestConfigPrecedence(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	for _, tc := range []struct{ name, body string }{
		{"c.yaml", "id: 1\nfleet: fromfile\nperiod: 250ms\ndelay: 3\ninitial: 7\nneighbours: [2, 3]\ntoken: ft\ninsecure-test-fleet: true\nlog:\n  format: json\n"},
		{"c.toml", "id = 1\nfleet = 'fromfile'\nperiod = '250ms'\ndelay = 3\ninitial = 7\nneighbours = [2, 3]\ntoken = 'ft'\ninsecure-test-fleet = true\n[log]\nformat = 'json'\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("WMSR_FLEET", "fromenv")
			t.Setenv("WMSR_DELAY", "4")
			t.Setenv("WMSR_LOG_LEVEL", "debug")
			code, out, errs := runT(t, "run", "--config", p, "--check-config", "--delay", "5", "--neighbours", "2,3,4")
			if code != 0 {
				t.Fatalf("code %d: %s", code, errs)
			}
			m := resolved(t, out)
			want := map[string]string{
				"fleet":      "fromenv\t# environment WMSR_FLEET",
				"delay":      "5\t# flag --delay",
				"period":     "250ms\t# config file " + p,
				"initial":    "7\t# config file " + p,
				"log.format": "json\t# config file " + p,
				"log.level":  "debug\t# environment WMSR_LOG_LEVEL",
				"neighbours": "2,3,4\t# flag --neighbours",
				"model":      "total\t# default",
				"f":          "1\t# default",
			}
			for k, w := range want {
				if m[k] != w {
					t.Errorf("%s = %q, want %q", k, m[k], w)
				}
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	clearEnv(t)
	base := []string{"run", "--check-config", "--id", "1", "--neighbours", "2,3", "--token", "x", "--insecure-test-fleet"}
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badFile, []byte("period: -1s\n"), 0o600)
	for _, tc := range []struct {
		name string
		env  [2]string
		args []string
		want string
	}{
		{"period flag", [2]string{}, []string{"--period", "soon"}, "invalid period (from flag --period)"},
		{"period file", [2]string{}, []string{"--config", badFile}, "invalid period (from config file " + badFile + ")"},
		{"model env", [2]string{"WMSR_MODEL", "byzantine"}, nil, "invalid model (from environment WMSR_MODEL)"},
		{"f fraction", [2]string{}, []string{"--model", "fraction", "--f", "0.7"}, "invalid f (from flag --f)"},
		{"self neighbour", [2]string{}, []string{"--neighbours", "1,2"}, "invalid neighbours (from flag --neighbours)"},
		{"epoch", [2]string{"WMSR_EPOCH", "yesterday"}, nil, "invalid epoch (from environment WMSR_EPOCH)"},
		{"log format", [2]string{}, []string{"--log-format", "xml"}, "invalid log.format (from flag --log-format)"},
		{"log level env", [2]string{"WMSR_LOG_LEVEL", "loud"}, nil, "invalid log.level (from environment WMSR_LOG_LEVEL)"},
		{"missing id", [2]string{}, []string{"--id", "0"}, "invalid id (from flag --id)"},
		{"config missing", [2]string{}, []string{"--config", filepath.Join(dir, "none.yaml")}, "config file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env[0] != "" {
				t.Setenv(tc.env[0], tc.env[1])
			}
			code, _, errs := runT(t, append(append([]string{}, base...), tc.args...)...)
			if code != exitUsage || !strings.Contains(errs, tc.want) {
				t.Fatalf("code %d, stderr %q; want %d and %q", code, errs, exitUsage, tc.want)
			}
		})
	}
	// Without the insecure test fleet, identity.dir, policy and gossip are
	// required.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "invalid identity.dir"},
		{[]string{"--identity-dir", dir}, "invalid policy"},
		{[]string{"--identity-dir", dir, "--policy", badFile}, "invalid gossip.bind"},
		{[]string{"--identity-dir", dir, "--insecure-test-fleet"}, "choose one identity source"},
		{[]string{"--insecure-test-fleet", "--gossip-join", "127.0.0.1:1"}, "invalid gossip.bind"},
		{[]string{"--insecure-test-fleet", "--gossip-bind", "nohost"}, "invalid gossip"},
		{[]string{"--insecure-test-fleet", "--tls-ca", badFile}, "need an ssl:// broker URL"},
		{[]string{"--insecure-test-fleet", "--broker", "ssl://127.0.0.1:1", "--tls-cert", badFile}, "tls.cert and tls.key go together"},
		{[]string{"--insecure-test-fleet", "--gossip-bind", "127.0.0.1:0", "--gossip-profile", "wan"}, "invalid gossip.profile"},
		{[]string{"--insecure-test-fleet", "--topology", filepath.Join(dir, "none.txt")}, "give one of them"},
		{[]string{"--insecure-test-fleet", "--fabric", "carrier-pigeon"}, "invalid fabric"},
		{[]string{"--insecure-test-fleet", "--tee", "tpm"}, "invalid tee"},
		{[]string{"--insecure-test-fleet", "--tee", "sgx"}, "invalid tee"},
		{[]string{"--tee", "sgx", "--policy", badFile}, "invalid identity.state-dir"},
		{[]string{"--insecure-test-fleet", "--fleetlog-replicas", "replica-without-port"}, "invalid fleetlog.replicas"},
		{[]string{"--insecure-test-fleet", "--rdma-listen", "nohost"}, "invalid rdma.listen"},
		{[]string{"--insecure-test-fleet", "--rdma-listen", "127.0.0.1:1"}, "invalid rdma.peers"},
		{[]string{"--insecure-test-fleet", "--rdma-peers", "1=a:1,1=b:2"}, "invalid rdma.peers"},
		{[]string{"--insecure-test-fleet", "--rdma-provider", "roce"}, "invalid rdma.provider"},
	} {
		args := append([]string{"run", "--check-config", "--id", "1", "--neighbours", "2", "--token", "x"}, tc.args...)
		code, _, errs := runT(t, args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: code %d, stderr %q; want %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	policy := filepath.Join(dir, "policy.json")
	code, _, errs := runT(t, "keygen", "--ca-out", ca, "--policy-out", policy)
	if code != 0 || !strings.Contains(errs, "NO HARDWARE PROTECTION") {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	// Outside an enclave the sgx backend refuses to start, records no
	// epoch, and says why.
	state := filepath.Join(dir, "state")
	code, _, errs = runT(t, "run", "--id", "1", "--neighbours", "2", "--token", "x", "--tee", "sgx",
		"--identity-state-dir", state, "--policy", policy, "--gossip-bind", "127.0.0.1:0")
	if code != exitFailure || !strings.Contains(errs, "enclave") && !strings.Contains(errs, "cgo") {
		t.Fatalf("--tee sgx outside an enclave: code %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(state, "agent-1.last-epoch")); !os.IsNotExist(err) {
		t.Fatalf("a failed sgx start recorded an epoch: %v", err)
	}
	pb, err := os.ReadFile(policy)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := attest.ParsePolicy(pb); err != nil || len(p.Soft.CAKeys) != 1 || len(p.Soft.BinaryHashes) != 1 {
		t.Fatalf("policy %s: %v", pb, err)
	}
	out := filepath.Join(dir, "agent")
	if code, _, errs = runT(t, "keygen", "--id", "3", "--epoch", "2", "--epochs", "2", "--ca", ca, "--out", out); code != 0 {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	for _, p := range []string{ca, ca + ".pub", filepath.Join(out, "agent-3-epoch-2.seed"), filepath.Join(out, "agent-3-epoch-2.statement"),
		filepath.Join(out, "agent-3-epoch-3.seed"), filepath.Join(out, "agent-3-epoch-3.statement")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	// No silent overwrite.
	if code, _, _ = runT(t, "keygen", "--ca-out", ca); code != exitUsage {
		t.Fatalf("overwrite: code %d", code)
	}
	if code, _, _ = runT(t, "keygen", "--policy-out", policy); code != exitUsage {
		t.Fatalf("--policy-out without --ca-out: code %d", code)
	}
	if code, _, _ = runT(t, "keygen", "--id", "3"); code != exitUsage {
		t.Fatalf("missing flags: code %d", code)
	}
}
