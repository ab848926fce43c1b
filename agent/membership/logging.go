package membership

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// newMemberlistLogger returns a *log.Logger (what memberlist.Config.Logger
// takes) that forwards to l. memberlist prefixes every line with its level
// ("[DEBUG]", "[INFO]", "[WARN]", "[ERR]"); mapping that prefix to the slog
// level keeps memberlist's frequent debug chatter (every stream
// connection) out of Info logs while its warnings (refutations, decryption
// failures, conflicts) stay visible.
func newMemberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(&slogWriter{l: l}, "", 0)
}

type slogWriter struct{ l *slog.Logger }

// Write logs one line; log.Logger calls it once per Printf.
func (w *slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	if len(line) > 0 && line[0] == '[' {
		if end := bytes.IndexByte(line, ']'); end > 0 {
			if lv, ok := memberlistLevel(string(line[1:end])); ok {
				level, line = lv, bytes.TrimSpace(line[end+1:])
			}
		}
	}
	line, _ = bytes.CutPrefix(line, []byte("memberlist: "))
	if w.l.Enabled(context.Background(), level) {
		w.l.Log(context.Background(), level, string(line), "component", "memberlist")
	}
	return len(p), nil
}

// memberlistLevel maps memberlist's level tags to slog levels.
func memberlistLevel(tag string) (slog.Level, bool) {
	switch tag {
	case "TRACE", "DEBUG":
		return slog.LevelDebug, true
	case "INFO":
		return slog.LevelInfo, true
	case "WARN":
		return slog.LevelWarn, true
	case "ERR", "ERROR":
		return slog.LevelError, true
	}
	return 0, false
}
