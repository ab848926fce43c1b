package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/node"
)

func newBrokerCmd() *cobra.Command {
	var listen, fleet, token, tokenFile, cert, key, clientCA, logLevel string
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded MQTT broker (mochi) until SIGINT/SIGTERM",
		Long: `broker runs the embedded MQTT broker that enforces the wmsr topic layout
and per-agent ACL (see package agent/broker), until SIGINT or SIGTERM.

Agents log in with their decimal member id as username and the fleet token
as password. Prefer --token-file (or WMSR_TOKEN) to --token: command lines
are visible to every local user. With --tls-cert/--tls-key the listener is
TLS; with --tls-client-ca clients must present a certificate (mTLS).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := node.NewLogger(cmd.ErrOrStderr(), "text", logLevel)
			tok, err := resolveToken(token, tokenFile)
			if err != nil {
				return err
			}
			cfg := broker.DefaultConfig()
			cfg.Fleet = fleet
			cfg.FleetToken = []byte(tok)
			cfg.Logger = log
			if (cert == "") != (key == "") {
				return usagef("--tls-cert and --tls-key go together")
			}
			if cert != "" {
				if cfg.TLS, err = broker.LoadTLS(cert, key, clientCA); err != nil {
					return usageError{err}
				}
			} else if clientCA != "" {
				return usagef("--tls-client-ca needs --tls-cert and --tls-key")
			}
			b, err := broker.New(cfg)
			if err != nil {
				return usageError{err}
			}
			return serveBroker(cmd.Context(), b, listen, cmd, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:1883", "listen address (host:port; port 0 picks one)")
	f.StringVar(&fleet, "fleet", "wmsr", "fleet name (second topic level)")
	f.StringVar(&token, "token", "", "fleet token (password of every agent); default $WMSR_TOKEN")
	f.StringVar(&tokenFile, "token-file", "", "file holding the fleet token")
	f.StringVar(&cert, "tls-cert", "", "server certificate (PEM) for a TLS listener")
	f.StringVar(&key, "tls-key", "", "server private key (PEM)")
	f.StringVar(&clientCA, "tls-client-ca", "", "CA (PEM) that client certificates must chain to (mTLS)")
	f.StringVar(&logLevel, "log-level", "info", "log level (debug|info|warn|error)")
	return cmd
}

func serveBroker(ctx context.Context, b *broker.Broker, listen string, cmd *cobra.Command, log *slog.Logger) error {
	addr, err := b.Start(ctx, listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "broker listening on %s\n", addr)
	<-ctx.Done()
	log.Info("broker shutting down")
	return b.Close()
}

// resolveToken returns the token from the flag, the file or $WMSR_TOKEN.
func resolveToken(token, file string) (string, error) {
	if token != "" && file != "" {
		return "", usagef("--token and --token-file are exclusive")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usageError{fmt.Errorf("--token-file: %w", err)}
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		token = os.Getenv("WMSR_TOKEN")
	}
	if token == "" {
		return "", usagef("no fleet token: set --token, --token-file or WMSR_TOKEN")
	}
	return token, nil
}
