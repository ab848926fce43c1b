// Package mqtttopic is the MQTT topic layout of a wmsr fleet, shared by the
// MQTT fabric (which publishes and subscribes) and the embedded broker
// (whose ACL enforces it):
//
//	wmsr/<fleet>/<agent>/value   one sealed attest envelope per round, QoS 0
//	wmsr/<fleet>/<agent>/state   retained: "online", "offline" or "lost" (last will)
//
// <agent> is the decimal attest.MemberID, which is also the agent's MQTT
// username, so a broker can confine each agent to its own subtree.
package mqtttopic

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wmsr/wmsr/attest"
)

// Root is the first topic level of every wmsr topic.
const Root = "wmsr"

// Leaf names and state payloads.
const (
	Value = "value"
	State = "state"

	StateOnline  = "online"
	StateOffline = "offline" // graceful Close
	StateLost    = "lost"    // last will: the broker lost the connection
)

// ErrTopic is wrapped by every topic or name validation error.
var ErrTopic = errors.New("mqtttopic: invalid")

// CheckFleet reports whether fleet can be a topic level: non-empty, no
// separators or wildcards (which would let a fleet name widen an ACL).
func CheckFleet(fleet string) error {
	if fleet == "" || strings.ContainsAny(fleet, "/+#\x00") || strings.HasPrefix(fleet, "$") {
		return fmt.Errorf("%w fleet name %q", ErrTopic, fleet)
	}
	return nil
}

// Agent returns the topic level (and MQTT username) for id.
func Agent(id attest.MemberID) string { return strconv.FormatUint(uint64(id), 10) }

// ParseAgent is the inverse of Agent; it accepts only the canonical form so
// that one agent has exactly one name.
func ParseAgent(s string) (attest.MemberID, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || Agent(attest.MemberID(n)) != s {
		return 0, fmt.Errorf("%w agent name %q", ErrTopic, s)
	}
	return attest.MemberID(n), nil
}

// Prefix returns "wmsr/<fleet>/<agent>/", the subtree agent may publish in.
func Prefix(fleet, agent string) string { return Root + "/" + fleet + "/" + agent + "/" }

// ValueTopic returns the value topic of id.
func ValueTopic(fleet string, id attest.MemberID) string { return Prefix(fleet, Agent(id)) + Value }

// StateTopic returns the state topic of id.
func StateTopic(fleet string, id attest.MemberID) string { return Prefix(fleet, Agent(id)) + State }

// Parse splits a concrete wmsr topic into agent and leaf. It fails for
// topics of other fleets or of another shape.
func Parse(fleet, topic string) (attest.MemberID, string, error) {
	parts := strings.Split(topic, "/")
	if len(parts) != 4 || parts[0] != Root || parts[1] != fleet {
		return 0, "", fmt.Errorf("%w topic %q for fleet %q", ErrTopic, topic, fleet)
	}
	id, err := ParseAgent(parts[2])
	if err != nil {
		return 0, "", err
	}
	return id, parts[3], nil
}
