package mqttfabric

import (
	"bytes"
	"sync"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// copyStore is paho's memory store holding private copies: Put stores a
// copy of the packet and Get returns a fresh one. paho v1.5.1's memory
// store keeps and hands out the very packet being sent, and on reconnect
// resume() sets Dup on it while the previous connection's writer may still
// be encoding it: a data race inside paho (eclipse-paho/paho.mqtt.golang
// #703; the fix proposed in #708 is not released). The race detector caught
// it in the Reconnect conformance case. Only packets with QoS > 0 are stored
// (here: the retained state message), so the copies cost nothing on the
// value path.
//
// Copies are made by encoding and decoding, since packets have no Clone;
// encoding writes the packet's length field, which is why Put copies before
// paho shares the packet (it calls Put from Publish, before queueing it)
// and Get copies the store's own packet under a lock.
type copyStore struct {
	mu sync.Mutex
	paho.Store
}

func newCopyStore() paho.Store { return &copyStore{Store: paho.NewMemoryStore()} }

// Put implements paho.Store.
func (s *copyStore) Put(key string, p packets.ControlPacket) {
	s.Store.Put(key, clonePacket(p))
}

// Get implements paho.Store.
func (s *copyStore) Get(key string) packets.ControlPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clonePacket(s.Store.Get(key))
}

func clonePacket(p packets.ControlPacket) packets.ControlPacket {
	if p == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		return p // cannot happen for a bytes.Buffer; keep paho's behaviour
	}
	cp, err := packets.ReadPacket(&buf)
	if err != nil {
		return p
	}
	return cp
}
