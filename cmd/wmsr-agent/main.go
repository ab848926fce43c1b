// Command wmsr-agent runs one member of a resilient (W-MSR) fleet: the
// agent itself ("run"), an embedded MQTT broker ("broker"), soft-backend
// key generation ("keygen") and "version". See "wmsr-agent help".
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
