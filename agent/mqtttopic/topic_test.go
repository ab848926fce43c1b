package mqtttopic

import (
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	if got := ValueTopic("f1", 42); got != "wmsr/f1/42/value" {
		t.Fatalf("ValueTopic = %q", got)
	}
	id, leaf, err := Parse("f1", StateTopic("f1", 7))
	if err != nil || id != 7 || leaf != State {
		t.Fatalf("Parse = %d %q %v", id, leaf, err)
	}
	for _, bad := range []string{"wmsr/f2/7/value", "wmsr/f1/07/value", "wmsr/f1/+/value", "wmsr/f1/7", "x/f1/7/value", "wmsr/f1/7/value/x"} {
		if _, _, err := Parse("f1", bad); !errors.Is(err, ErrTopic) {
			t.Errorf("Parse(%q) err = %v, want ErrTopic", bad, err)
		}
	}
	for _, bad := range []string{"", "a/b", "a+", "#", "$SYS"} {
		if CheckFleet(bad) == nil {
			t.Errorf("CheckFleet(%q) accepted", bad)
		}
	}
}
