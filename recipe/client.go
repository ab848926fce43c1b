package recipe

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"
)

// Client talks to one replica's client port: one request at a time.
type Client struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
	req  uint64
}

// DialClient connects to a replica.
func DialClient(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("recipe: dial %s: %w", addr, err)
	}
	return &Client{conn: c, r: bufio.NewReader(c)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Put writes key (a kv/ key) and returns once the write is committed and
// applied at the replica.
func (c *Client) Put(ctx context.Context, key string, val []byte) error {
	ok, _, _, err := c.do(ctx, false, key, val)
	if err == nil && !ok {
		err = ErrNotLeader
	}
	return err
}

// Get reads key linearizably (ReadIndex).
func (c *Client) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ok, found, val, err := c.do(ctx, true, key, nil)
	if err == nil && !ok {
		err = ErrNotLeader
	}
	return val, found, err
}

// Status returns the replica's raft ID, the leader it knows (0 if none),
// and whether it is a voter.
func (c *Client) Status(ctx context.Context) (self, leader uint64, voter bool, err error) {
	voter, _, v, err := c.doOp(ctx, clientStatus, "", nil)
	if err != nil {
		return 0, 0, false, err
	}
	if len(v) != 16 {
		return 0, 0, false, ErrMalformed
	}
	return binary.BigEndian.Uint64(v[8:]), binary.BigEndian.Uint64(v), voter, nil
}

func (c *Client) do(ctx context.Context, get bool, key string, val []byte) (ok, found bool, v []byte, err error) {
	op := byte(clientPut)
	if get {
		op = clientGet
	}
	return c.doOp(ctx, op, key, val)
}

func (c *Client) doOp(ctx context.Context, op byte, key string, val []byte) (ok, found bool, v []byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.req++
	req := c.req
	dl, has := ctx.Deadline()
	if !has {
		dl = time.Now().Add(5 * time.Second)
	}
	_ = c.conn.SetDeadline(dl)
	if err := writeFrame(c.conn, encodeClient(req, op, key, val)); err != nil {
		return false, false, nil, fmt.Errorf("recipe: client: %w", err)
	}
	for {
		b, err := readFrame(c.r)
		if err != nil {
			return false, false, nil, fmt.Errorf("recipe: client: %w", err)
		}
		r, ok, found, v, err := decodeClientAnswer(b)
		if err != nil {
			return false, false, nil, err
		}
		if r == req {
			return ok, found, v, nil
		}
	}
}
