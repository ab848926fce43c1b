package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEmbeddedBrokerStopsLast: an agent that hosts the embedded broker
// stops on SIGTERM with its own client closed before the broker, so a clean
// stop logs no lost connection. The broker used to watch the run's context
// and close the moment the signal came, under the agent's client.
func TestEmbeddedBrokerStopsLast(t *testing.T) {
	faultSetup(t)
	clearFaultEnv(t)
	f := &fleet{t: t}
	p := f.start("agent1", faultBuild.bin, []string{"run", "--insecure-test-fleet", "--id", "1", "--neighbours", "2",
		"--fleet", "stop", "--broker-listen", "127.0.0.1:0", "--period", "50ms", "--log-level", "debug"},
		[]string{"WMSR_TOKEN=stop-token"})
	defer p.kill()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(p.log.String(), `msg="mqtt connected"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("agent did not connect to its broker:\n%s", p.log.String())
		}
	}
	time.Sleep(200 * time.Millisecond) // a few rounds
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop within 10 s of SIGTERM")
	}
	log := p.log.String()
	if p.err != nil {
		t.Fatalf("exit: %v\n%s", p.err, log)
	}
	stopped, brokerDown := strings.Index(log, `msg="agent stopped"`), strings.Index(log, `msg="mochi mqtt server stopped"`)
	if stopped < 0 || brokerDown < stopped {
		t.Errorf("want the agent stopped (at %d) before its broker (at %d)", stopped, brokerDown)
	}
	for _, bad := range []string{`msg="mqtt connection lost"`, `msg=""`} {
		if strings.Contains(log, bad) {
			t.Errorf("a clean stop logged %s", bad)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}
