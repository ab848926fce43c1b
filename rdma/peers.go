package rdma

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/wmsr/wmsr/attest"
)

// Peers is the directory a NetFabric finds other agents' ring connection
// managers in. It is consulted at every ring set-up, never cached, so an
// implementation fed by membership (memberlist metadata) takes effect at
// the next attempt. Implementations must be safe for concurrent use.
type Peers interface {
	// Addr returns the host:port of agent id's connection manager.
	Addr(id attest.MemberID) (addr string, ok bool)
	// Members lists the agents the directory knows. A starting fabric
	// offers its rings to each, so that agents already subscribed to it
	// are connected before its first Publish.
	Members() []attest.MemberID
}

// StaticPeers is a fixed directory: member id → host:port. It must not be
// modified once a fabric uses it.
type StaticPeers map[attest.MemberID]string

var _ Peers = StaticPeers(nil)

// Addr implements Peers.
func (p StaticPeers) Addr(id attest.MemberID) (string, bool) {
	a, ok := p[id]
	return a, ok
}

// Members implements Peers, in ascending order.
func (p StaticPeers) Members() []attest.MemberID {
	ids := make([]attest.MemberID, 0, len(p))
	for id := range p {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// String is the canonical form ParsePeers reads: "id=host:port,…" in
// ascending id order.
func (p StaticPeers) String() string {
	var b strings.Builder
	for i, id := range p.Members() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(id), 10))
		b.WriteByte('=')
		b.WriteString(p[id])
	}
	return b.String()
}

// ParsePeers reads a directory written "id=host:port,id=host:port,…" (as
// a --rdma-peers flag would give it). It is strict: ids are decimal
// without sign or leading zeros, each at most once; hosts are IP
// addresses (IPv6 in brackets, no zone) or DNS names (letters, digits,
// hyphens, dots); ports are decimal in 1..65535 without leading zeros; no
// spaces, no empty entries. "" is the empty directory.
func ParsePeers(s string) (StaticPeers, error) {
	p := StaticPeers{}
	if s == "" {
		return p, nil
	}
	for i, entry := range strings.Split(s, ",") {
		idStr, addr, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("rdma: peers entry %d %q: want id=host:port", i+1, entry)
		}
		id, err := strconv.ParseUint(idStr, 10, 64)
		if err != nil || strconv.FormatUint(id, 10) != idStr {
			return nil, fmt.Errorf("rdma: peers entry %d: bad member id %q", i+1, idStr)
		}
		if err := checkHostPort(addr); err != nil {
			return nil, fmt.Errorf("rdma: peers entry %d (member %d): %w", i+1, id, err)
		}
		if _, dup := p[attest.MemberID(id)]; dup {
			return nil, fmt.Errorf("rdma: peers entry %d: member %d listed twice", i+1, id)
		}
		p[attest.MemberID(id)] = addr
	}
	return p, nil
}

// checkHostPort accepts host:port as ParsePeers documents.
func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad address %q: %w", addr, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != port {
		return fmt.Errorf("bad port in %q", addr)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		// An IPv6 address is bracketed (else SplitHostPort refused it), an
		// IPv4 one must not be.
		if ip.Zone() != "" || ip.Is4() == strings.HasPrefix(addr, "[") {
			return fmt.Errorf("bad IP address in %q", addr)
		}
		return nil
	}
	if strings.HasPrefix(addr, "[") || !validHostname(host) {
		return fmt.Errorf("bad host in %q", addr)
	}
	return nil
}

// validHostname: dot-separated labels of letters, digits and inner
// hyphens, 1..63 bytes each, 253 bytes at most, the last one not all
// digits (so that "1.2.3.256" is a bad address, not a name).
func validHostname(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if strings.Trim(last, "0123456789") == "" {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := range len(label) {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
