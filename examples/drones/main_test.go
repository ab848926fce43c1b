package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The default fleet agrees, stays safe, and writes its trace and plot.
func TestDefaultFleetAgrees(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	for _, want := range []string{"agreement within", "safety: 0 normal values left", "attacker"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, &stdout)
		}
	}
	for _, f := range []string{"trace.csv", "altitude.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// Every strategy in the library is beaten by F = 2 on the default fleet.
func TestEveryStrategyIsBeaten(t *testing.T) {
	for _, s := range strategyNames() {
		if s == "equivocate" {
			// Two-faced attackers are outside the malicious model the F-total
			// theorem covers; signed values (the networked agent) are what
			// reduce them to malicious ones. Their safety is still checked.
			continue
		}
		t.Run(s, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"-strategy", s, "-out", ""}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\n%s%s", code, &stdout, &stderr)
			}
		})
	}
}

// More attackers than F: the run goes ahead so the user can watch, and the
// exit status says the guarantee was not met if agreement or safety failed.
func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "1"},
		{"-f", "-1"},
		{"-attackers", "30"},
		{"-strategy", "nope"},
		{"-radius", "0"},
		{"-rounds", "0"},
		{"-topology", "/nonexistent/graph.txt"},
		{"stray"},
		{"-undefined-flag"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append(args, "-out", ""), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, &stderr)
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: no message on stderr", args)
		}
	}
}

// A topology file is read in any of graph's formats.
func TestTopologyFile(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"-topology", "../../graph/testdata/circulant8_2.txt", "-f", "1", "-attackers", "1", "-out", ""}
	code := run(context.Background(), args, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, &stdout, &stderr)
	}
	if !strings.Contains(stdout.String(), "8 drones") {
		t.Errorf("output:\n%s", &stdout)
	}
}
