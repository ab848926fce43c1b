package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wmsr/wmsr/agent/node"
	"github.com/wmsr/wmsr/graph"
	"github.com/wmsr/wmsr/recipe"
	"github.com/wmsr/wmsr/topology"
)

const logLong = `log reads and changes the fleet configuration log (the replicas run by
"wmsr-agent replica"). Agents with fleetlog.replicas set follow it and
switch to a change at the round it names, all together.

  wmsr-agent log status   --replicas a:7100,b:7100,c:7100
  wmsr-agent log get params --replicas ...
  wmsr-agent log watch    --replicas ...           (one JSON line per change)
  wmsr-agent log set-params --f 2 --in 30s --key op.pem --replicas ...
  wmsr-agent log set-topology fleet.txt --in 30s --key op.pem --replicas ...

A change takes effect at a round: --at-round N, or --in DURATION from now
on the fleet's round clock (--epoch and --period, the agents' settings;
the defaults are theirs). Leave the fleet time to hear it: a change must
reach every agent before its round, and one that arrives late is applied
at once by that agent only.

set-topology and set-params decide first, with topology/, whether the
topology they would leave the fleet on tolerates F (F-total: (F+1,F+1)-
robust) and refuse a change that it provably does not, unless --force
(set-params checks only when the log holds a topology; set-topology checks
against --f, or the log's F).
Writes are signed with an operator key (keygen --ca-out op.pem makes one;
its op.pem.pub line goes in the replicas' client-keys file).`

// logFlags are the flags every log subcommand shares.
type logFlags struct {
	replicas []string
	timeout  time.Duration
}

func (f *logFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.replicas, "replicas", nil, "client addresses of the log's replicas (host:port, comma-separated; or WMSR_LOG_REPLICAS)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 15*time.Second, "give up after this long")
}

func (f *logFlags) resolve() error {
	if len(f.replicas) == 0 {
		if env := os.Getenv("WMSR_LOG_REPLICAS"); env != "" {
			f.replicas = strings.Split(env, ",")
		}
	}
	if len(f.replicas) == 0 {
		return usagef("--replicas: no replica address (host:port of a replica's client port)")
	}
	return nil
}

func newLogCmd() *cobra.Command {
	c := &cobra.Command{Use: "log", Short: "Read and change the fleet configuration log", Long: logLong}
	c.AddCommand(newLogStatusCmd(), newLogGetCmd(), newLogWatchCmd(), newLogSetParamsCmd(), newLogSetTopologyCmd())
	return c
}

// dialAny connects to the first replica that answers.
func dialAny(ctx context.Context, addrs []string) (*recipe.Client, error) {
	var errs []error
	for _, a := range addrs {
		c, err := recipe.DialClient(ctx, a, nil)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func newLogStatusCmd() *cobra.Command {
	var lf logFlags
	c := &cobra.Command{
		Use:   "status",
		Short: "Print each replica's view: leader, voter, client-port refusals",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lf.resolve(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), lf.timeout)
			defer cancel()
			w, failed := cmd.OutOrStdout(), 0
			for _, a := range lf.replicas {
				st, err := replicaStatus(ctx, a)
				if err != nil {
					fmt.Fprintf(w, "%s\tunreachable: %v\n", a, err)
					failed++
					continue
				}
				k := st.Clients
				fmt.Fprintf(w, "%s\traft %#x\tleader %#x\tvoter %v\taccepted %d\trefused forged=%d replayed=%d unknown-key=%d unsigned=%d forbidden=%d malformed=%d\n",
					a, st.Self, st.Leader, st.Voter, k.Accepted, k.Forged, k.Replayed, k.UnknownKey, k.Unsigned, k.Forbidden, k.Malformed)
			}
			if failed == len(lf.replicas) {
				return errors.New("no replica answered")
			}
			return nil
		},
	}
	lf.register(c)
	return c
}

func replicaStatus(ctx context.Context, addr string) (recipe.ReplicaStatus, error) {
	c, err := recipe.DialClient(ctx, addr, nil)
	if err != nil {
		return recipe.ReplicaStatus{}, err
	}
	defer c.Close()
	return c.Status(ctx)
}

// recordJSON is how records and changes print: typed records' values as
// the JSON they are, opaque ones (kv/) as base64.
type recordJSON struct {
	Key        string          `json:"key"`
	Op         string          `json:"op,omitempty"`
	Revision   uint64          `json:"rev"`
	ActivateAt uint64          `json:"activate_at,omitempty"`
	Value      json.RawMessage `json:"value,omitempty"`
	// Snapshot marks a current record (from a snapshot of the log: a
	// watch that starts, or falls behind the replica's history) rather
	// than a change as it committed.
	Snapshot bool `json:"snapshot,omitempty"`
}

func printEvent(w io.Writer, e recipe.Event, snapshot bool) error {
	r := recordJSON{Key: e.Record.Key, Revision: e.Revision, ActivateAt: e.Record.ActivateAt, Snapshot: snapshot}
	switch e.Op {
	case recipe.OpPut:
		r.Op = "put"
	case recipe.OpDelete:
		r.Op = "delete"
	default:
		r.Op = "admit"
	}
	if len(e.Record.Value) > 0 {
		if json.Valid(e.Record.Value) {
			r.Value = e.Record.Value
		} else {
			r.Value, _ = json.Marshal(e.Record.Value)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func newLogGetCmd() *cobra.Command {
	var lf logFlags
	c := &cobra.Command{
		Use:   "get [KEY]",
		Short: "Print a record (or, without KEY, every record) as JSON, read linearizably",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lf.resolve(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), lf.timeout)
			defer cancel()
			c, err := dialAny(ctx, lf.replicas)
			if err != nil {
				return err
			}
			defer c.Close()
			ch, err := c.Changes(ctx, 0, 0)
			if err != nil {
				return err
			}
			found := false
			for _, e := range ch.Events {
				if len(args) == 0 || e.Record.Key == args[0] {
					found = true
					if err := printEvent(cmd.OutOrStdout(), e, false); err != nil {
						return err
					}
				}
			}
			if len(args) == 1 && !found {
				return fmt.Errorf("no record %q in the log (revision %d)", args[0], ch.Revision)
			}
			return nil
		},
	}
	lf.register(c)
	return c
}

func newLogWatchCmd() *cobra.Command {
	var lf logFlags
	var from uint64
	c := &cobra.Command{
		Use:   "watch",
		Short: "Print every change as it commits (one JSON line each), until interrupted",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lf.resolve(); err != nil {
				return err
			}
			w, failures := cmd.OutOrStdout(), cmd.ErrOrStderr()
			// A failed write (the reader went away) ends the watch.
			ctx, stop := context.WithCancel(cmd.Context())
			defer stop()
			var werr error
			_ = recipe.Follow(ctx, lf.replicas, from, 10*time.Second, func(ch recipe.Changes) {
				for _, e := range ch.Events {
					if werr == nil {
						if werr = printEvent(w, e, ch.Snapshot); werr != nil {
							stop()
						}
					}
				}
			}, func(addr string, err error) {
				fmt.Fprintf(failures, "wmsr-agent: log watch: replica %s: %v (trying the next replica)\n", addr, err)
			})
			return werr
		},
	}
	lf.register(c)
	c.Flags().Uint64Var(&from, "from", 0, "first revision to print (0: the current records, then every change; a revision older than the replica's history also gets the current records, marked \"snapshot\")")
	return c
}

// changeFlags are the flags of the set- subcommands.
type changeFlags struct {
	logFlags
	key     string
	atRound uint64
	in      time.Duration
	period  time.Duration
	epoch   string
	force   bool
	check   time.Duration
}

func (f *changeFlags) register(cmd *cobra.Command) {
	f.logFlags.register(cmd)
	cmd.Flags().StringVar(&f.key, "key", "", "operator private key (PEM, from keygen --ca-out), listed in the replicas' client-keys")
	cmd.Flags().Uint64Var(&f.atRound, "at-round", 0, "round the change takes effect at")
	cmd.Flags().DurationVar(&f.in, "in", 0, "or: take effect this long from now, on the round clock of --epoch and --period")
	cmd.Flags().DurationVar(&f.period, "period", 100*time.Millisecond, "the fleet's round period (agents' period)")
	cmd.Flags().StringVar(&f.epoch, "epoch", "1970-01-01T00:00:00Z", "the fleet's round-0 start (agents' epoch, RFC 3339)")
	cmd.Flags().BoolVar(&f.force, "force", false, "write even when the resulting topology provably does not tolerate F")
	cmd.Flags().DurationVar(&f.check, "check-timeout", 10*time.Second, "bound on the robustness decision")
}

// round resolves --at-round / --in to the activation round.
func (f *changeFlags) round(now time.Time) (uint64, error) {
	switch {
	case f.atRound != 0 && f.in != 0:
		return 0, usagef("--at-round and --in: give one")
	case f.atRound != 0:
		return f.atRound, nil
	case f.in <= 0:
		return 0, usagef("--at-round N or --in DURATION (> 0): a change needs the round it takes effect at")
	}
	epoch, err := time.Parse(time.RFC3339Nano, f.epoch)
	if err != nil {
		return 0, usagef("--epoch %q: %v", f.epoch, err)
	}
	if f.period <= 0 {
		return 0, usagef("--period %v: want > 0", f.period)
	}
	at := now.Add(f.in).Sub(epoch)
	if at < 0 {
		return 0, usagef("--epoch %s is after now + --in", f.epoch)
	}
	return uint64((at + f.period - 1) / f.period), nil
}

func (f *changeFlags) operatorKey() (recipe.ClientKey, error) {
	if f.key == "" {
		return nil, usagef("--key: writes need an operator key (PEM)")
	}
	b, err := os.ReadFile(f.key)
	if err != nil {
		return nil, usagef("--key: %v", err)
	}
	priv, err := recipe.ParseOperatorKey(b)
	if err != nil {
		return nil, usagef("--key %s: %v", f.key, err)
	}
	return recipe.OperatorKey(priv), nil
}

// current reads the log's params and topology (either may be missing).
func current(ctx context.Context, addrs []string) (f int, haveF bool, g *graph.Digraph, err error) {
	c, err := dialAny(ctx, addrs)
	if err != nil {
		return 0, false, nil, err
	}
	defer c.Close()
	ch, err := c.Changes(ctx, 0, 0)
	if err != nil {
		return 0, false, nil, err
	}
	for _, e := range ch.Events {
		switch e.Record.Key {
		case recipe.KeyParams:
			var p recipe.FleetParams
			if err := json.Unmarshal(e.Record.Value, &p); err != nil {
				return 0, false, nil, fmt.Errorf("the log's params: %w", err)
			}
			f, haveF = p.F, true
		case recipe.KeyTopology:
			var t recipe.Topology
			if err := json.Unmarshal(e.Record.Value, &t); err != nil {
				return 0, false, nil, fmt.Errorf("the log's topology: %w", err)
			}
			if g, _, err = node.TopologyGraph(t); err != nil {
				return 0, false, nil, fmt.Errorf("the log's topology: %w", err)
			}
		}
	}
	return f, haveF, g, nil
}

// vet decides whether g tolerates F-total f, and refuses (unless force) a
// change that provably leaves the fleet without it.
func (f *changeFlags) vet(ctx context.Context, w io.Writer, g *graph.Digraph, F int) error {
	cctx, cancel := context.WithTimeout(ctx, f.check)
	defer cancel()
	ok, refuted, decided, why, _, err := topology.Tolerates(cctx, g, topology.Total, F, topology.Options{})
	switch {
	case err != nil:
		return err
	case ok:
		fmt.Fprintf(w, "robustness: the topology tolerates F = %d (F-total): %s\n", F, why)
	case refuted && !f.force:
		return fmt.Errorf("the topology does not tolerate F = %d (F-total): %s; --force writes it anyway", F, why)
	case refuted:
		fmt.Fprintf(w, "robustness: WARNING, the topology does not tolerate F = %d: %s (written: --force)\n", F, why)
	case !decided:
		fmt.Fprintf(w, "robustness: not decided within --check-timeout %v\n", f.check)
	default:
		fmt.Fprintf(w, "robustness: not decided by theory for F = %d: %s\n", F, why)
	}
	return nil
}

func (f *changeFlags) write(ctx context.Context, w io.Writer, key recipe.ClientKey, cmd recipe.Command) error {
	addr, err := recipe.ProposeAny(ctx, f.replicas, key, cmd)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "committed %s, in effect from round %d (via %s)\n", cmd.Key, cmd.ActivateAt, addr)
	return nil
}

func newLogSetParamsCmd() *cobra.Command {
	var cf changeFlags
	var F int
	c := &cobra.Command{
		Use:   "set-params",
		Short: "Set the fleet's F from a future round",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.resolve(); err != nil {
				return err
			}
			if F < 0 {
				return usagef("--f %d: want ≥ 0", F)
			}
			key, err := cf.operatorKey()
			if err != nil {
				return err
			}
			round, err := cf.round(time.Now())
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), cf.timeout)
			defer cancel()
			_, _, g, err := current(ctx, cf.replicas)
			if err != nil {
				return err
			}
			if g != nil {
				if err := cf.vet(ctx, cmd.OutOrStdout(), g, F); err != nil {
					return err
				}
			}
			pc, err := recipe.PutParams(recipe.FleetParams{F: F}, round)
			if err != nil {
				return err
			}
			return cf.write(ctx, cmd.OutOrStdout(), key, pc)
		},
	}
	cf.register(c)
	c.Flags().IntVar(&F, "f", -1, "F: values trimmed on each side (required)")
	return c
}

func newLogSetTopologyCmd() *cobra.Command {
	var cf changeFlags
	var members string
	var F int
	c := &cobra.Command{
		Use:   "set-topology FILE",
		Short: "Set the fleet graph (text, JSON, DOT or CSV file) from a future round",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.resolve(); err != nil {
				return err
			}
			g, err := node.ReadGraphFile(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			var ids []uint64
			if members != "" {
				for _, p := range strings.Split(members, ",") {
					id, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
					if err != nil || id == 0 {
						return usagef("--members: %q is not a member id ≥ 1", p)
					}
					ids = append(ids, id)
				}
			}
			t, err := recipe.TopologyOf(g, ids)
			if err != nil {
				return usagef("--members: %v", err)
			}
			if _, _, err := node.TopologyGraph(t); err != nil {
				return usagef("--members: %v", err)
			}
			key, err := cf.operatorKey()
			if err != nil {
				return err
			}
			round, err := cf.round(time.Now())
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), cf.timeout)
			defer cancel()
			if F < 0 {
				logF, haveF, _, err := current(ctx, cf.replicas)
				if err != nil {
					return err
				}
				if !haveF {
					return usagef("the log holds no params yet: give --f, the F to check the topology against")
				}
				F = logF
			}
			if err := cf.vet(ctx, cmd.OutOrStdout(), g, F); err != nil {
				return err
			}
			tc, err := recipe.PutTopology(t, round)
			if err != nil {
				return err
			}
			return cf.write(ctx, cmd.OutOrStdout(), key, tc)
		},
	}
	cf.register(c)
	c.Flags().StringVar(&members, "members", "", "member id of each node, in node order (default: node i is member i+1)")
	c.Flags().IntVar(&F, "f", -1, "F to check the topology against (default: the log's params)")
	return c
}
