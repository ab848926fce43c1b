package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // runtime failure
	exitUsage   = 2 // bad flags, configuration or arguments
)

// usageError marks errors that exit with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run is main without the process: it parses args, runs the command until
// it finishes or SIGINT/SIGTERM arrives, and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, stderr)
}

// runContext is run with the caller's context (tests cancel it instead of
// sending signals).
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "wmsr-agent:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "wmsr-agent",
		Short: "Resilient distributed-control agent (W-MSR over attested MQTT)",
		Long: `wmsr-agent runs one member of a fleet that agrees on a value with the
W-MSR rule, tolerating up to F faulty or malicious neighbours.

Exit status: 0 on success or graceful shutdown, 1 on a runtime failure,
2 on a usage or configuration error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without subcommand: show help.
		Args: cobra.NoArgs,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newVersionCmd(), newBrokerCmd(), newKeygenCmd(), newRunCmd(), newReplicaCmd(), newLogCmd())
	// Unknown subcommands and bad positional arguments are usage errors too.
	for _, c := range root.Commands() {
		if c.Args == nil {
			c.Args = cobra.NoArgs
		}
		args := c.Args
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	rootArgs := root.Args
	root.Args = func(cmd *cobra.Command, a []string) error {
		if err := rootArgs(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
	return root
}
