package mqttfabric_test

import (
	"testing"

	"github.com/wmsr/wmsr/agent/fabrictest"
)

func TestConformanceEmbedded(t *testing.T) {
	b := startEmbedded(t, embeddedConfig())
	fabrictest.Run(t, fabrictest.Harness{New: newFabric(b), Restart: b.Restart, Ordered: true})
}

func TestConformanceMosquitto(t *testing.T) {
	b := startMosquitto(t)
	fabrictest.Run(t, fabrictest.Harness{New: newFabric(b), Restart: b.Restart, Ordered: true})
}
