package rdma_test

import (
	"maps"
	"testing"

	"github.com/wmsr/wmsr/rdma"
)

func TestParsePeers(t *testing.T) {
	good := map[string]rdma.StaticPeers{
		"":                         {},
		"1=10.0.0.1:7400":          {1: "10.0.0.1:7400"},
		"2=[fe80::1]:7400,1=h1:80": {1: "h1:80", 2: "[fe80::1]:7400"},
		"0=node-0.fleet.example:65535,18446744073709551615=[::ffff:10.0.0.1]:1": {
			0: "node-0.fleet.example:65535", 18446744073709551615: "[::ffff:10.0.0.1]:1"},
	}
	for in, want := range good {
		got, err := rdma.ParsePeers(in)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("ParsePeers(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if s := (rdma.StaticPeers{2: "b:2", 1: "a:1"}).String(); s != "1=a:1,2=b:2" {
		t.Errorf("String() = %q", s)
	}
	for _, in := range []string{
		",", "1=a:1,", ",1=a:1", "1=a:1,,2=b:2", "1", "1=", "=a:1", "x=a:1", "-1=a:1", "+1=a:1", "01=a:1",
		"18446744073709551616=a:1", "1=a:1,1=b:2", "1=a", "1=a:0", "1=a:65536", "1=a:01", "1=a:-1", "1=a:http",
		"1=:80", "1= a:1", "1=a:1 ", " 1=a:1", "1=a b:1", "1=a_b:1", "1=-a:1", "1=a-:1", "1=a..b:1", "1=.a:1",
		"1=a=b:1", "1=fe80::1:80", "1=[fe80::1%eth0]:80", "1=[10.0.0.1]:80", "1=[host]:80", "1=10.0.0.256:80",
		"1=1.2.3:80", "1=a:1;2=b:2",
	} {
		if p, err := rdma.ParsePeers(in); err == nil {
			t.Errorf("ParsePeers(%q) accepted: %v", in, p)
		}
	}
}

// FuzzParsePeers: the parser never panics, and what it accepts prints
// (String) to a form it reads back to the same directory.
func FuzzParsePeers(f *testing.F) {
	f.Add("1=10.0.0.1:7400,2=[::1]:7400,3=host-3.example:1")
	f.Add("")
	f.Add("1=a:1,1=a:1")
	f.Add("007=x:80")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := rdma.ParsePeers(s)
		if err != nil {
			return
		}
		again, err := rdma.ParsePeers(p.String())
		if err != nil || !maps.Equal(p, again) {
			t.Fatalf("%q → %v → %q → %v, %v", s, p, p.String(), again, err)
		}
		for _, id := range p.Members() {
			if a, ok := p.Addr(id); !ok || a == "" {
				t.Fatalf("member %d without address", id)
			}
		}
	})
}
