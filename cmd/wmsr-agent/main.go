// Command wmsr-agent runs one member of a resilient (W-MSR) fleet: the
// agent itself ("run"), a replica of the fleet configuration log
// ("replica"), an embedded MQTT broker ("broker"), soft-backend key and
// policy generation ("keygen") and "version". See "wmsr-agent help".
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
