// Package attest gives every message between wmsr agents (neighbour values)
// and between recipe/ replicas (the replicated fleet log) transferable
// authentication and non-equivocation, anchored in a TEE where one is
// available.
//
// # Why
//
// W-MSR tolerates malicious agents: an agent that sends one wrong value to
// all its neighbours. A Byzantine agent that tells each neighbour something
// different is far stronger and needs a far denser topology. Recipe
// (Giantsidi et al., "Recipe: Hardware-Accelerated Replication Protocols",
// arXiv 2502.09251, Middleware '25) shows that two properties, anchored in a
// TEE, are enough to run crash-fault-tolerant protocols in Byzantine
// settings: transferable authentication (any attested party can check who
// sent a message) and non-equivocation (a sender cannot issue two different
// messages under the same counter). With both, a two-faced agent is either
// reduced to a merely malicious one or caught with evidence.
//
// # Specification
//
// The public Recipe code is a prototype; the specification followed here is
// Recipe's Tamarin model (proofs/recipe_protocols.spthy): after
// attestation, a pairwise key per directed pair; one send and one receive
// counter per directed pair, starting at 1; wire form
// auth(k, <msg, cnt>), msg, cnt (optionally encrypted); a receiver accepts
// only cnt == expected and then increments. Its lemmas — every accepted
// message came from an attested sender; no loss before an accepted counter;
// no reordering; no duplicates — are the property tests in
// lemma_test.go, over a lossy, duplicating, reordering network with an
// active attacker. recipe_paper_test.go has one test per claim of the
// paper.
//
// The model has one sequence per directed pair; Recipe's view change
// starts the channels of a new view afresh. Here that is a lane: the
// counter of a laned unicast stream is lane<<LaneShift | seq (LaneShift =
// 40, so lanes 0..2^24-1 of 2^40-1 envelopes each; the envelope format is
// unchanged). A sender opens a higher lane with Sender.StartLane (recipe/
// does at each raft term); a receiver with ReceiverConfig.LanedUnicast
// (LaneCounter) accepts the next seq of its current lane as the model
// does, and seq 1 of any higher lane at once, abandoning the rest of the
// lower lane, whose envelopes are then ErrStale. Counters keep their
// numeric order across lanes, so slots, cumulative acknowledgements and
// equivocation evidence are unchanged; the lemmas hold on laned streams
// with no-loss weakened to within a lane (TestLemmaNoLossWithinLane).
// Beyond the last lane a stream stays in it: correct, no fresh start.
//
// # Pieces
//
//   - Envelope (envelope.go): a versioned, fixed-layout binary format
//     (sender, epoch, receiver or channel, receiver epoch, counter, kind,
//     payload, authenticator), at most MaxEnvelopeSize bytes, parsed
//     strictly by Parse (fuzzed: FuzzParse).
//   - Suites (auth.go): SuiteEd25519 (transferable; default for neighbour
//     values), SuiteHMACSHA256 and SuiteHMACSHA256T128, its 128-bit
//     truncation (pairwise keys derived by X25519 + HKDF from attested
//     keys, so only attested members obtain them; far cheaper, not
//     transferable). Optional AES-256-GCM confidentiality.
//   - Sender and Receiver (sender.go, receiver.go, counter.go): one counter
//     per stream. Unicast streams (a directed pair of incarnations) accept
//     only the next counter (SeqCounter), or, chosen per Receiver, the
//     next counter of the current lane or the first of a higher one
//     (ReceiverConfig.LanedUnicast, LaneCounter: the replicated log) or
//     any higher counter (ReceiverConfig.LossyUnicast, MonoCounter:
//     agents' pairwise values); broadcast streams (a sender's values on a
//     channel) accept strictly higher counters and report the gap as
//     omissions (MonoCounter). Rejections wrap sentinel errors; ReasonOf
//     maps them to a Reason for metrics.
//   - Evidence (evidence.go): two authentic envelopes for one slot with
//     different content; in Ed25519 mode a self-contained proof any third
//     party verifies offline (VerifyEvidence), to be fed to the fleet
//     configuration log for quarantine. See Evidence for what HMAC-mode
//     evidence can and cannot prove.
//   - Backends (backend.go, soft.go, sgx.go): SGXBackend (EGo) and
//     SoftBackend (operator-run fleet CA) behind the Backend interface.
//   - Admission (policy.go, admission.go): a strict JSON Policy and the
//     Admitter that turns an Attestation into the Member record recipe/
//     stores.
//   - Value payloads (value.go): float64 encoding that refuses NaN and Inf.
//
// # Epochs instead of persistent counters
//
// SGX has no persistent monotonic counters any more (removed in SGX SDK
// 2.8; see EGo issue #124), so a counter cannot survive a restart safely.
// As in Recipe and CCF, recovery is by reconfiguration: keys live only in
// memory and are never sealed to disk; a restarted member generates fresh
// keys inside the enclave under a new, higher epoch and must be admitted
// again. Every directed pair involving it is then new (keys and counters),
// and everything sent under the old epoch is rejected as ErrStale.
//
// # The soft backend gives no hardware protection
//
// SoftBackend exists for machines without SGX. Its Protection() says
// HardwareProtected=false with SoftWarning; agents must log it and export it
// as a metric. Concretely, the soft backend does NOT protect against:
//
//   - a root user, hypervisor or any code running in the agent process
//     reading the private keys from memory (or from swap or core dumps);
//   - such an attacker signing arbitrary envelopes as this member,
//     including two different envelopes under one counter (equivocation):
//     non-equivocation then holds only in the sense that it is detectable
//     (Ed25519 evidence), not prevented;
//   - a host that restarts the agent and replays its own old state:
//     freshness relies on admission refusing epochs that are not higher,
//     not on hardware;
//   - a modified agent binary: the binary hash in the fleet CA statement is
//     whatever the requesting host reported to the CA; it is not measured
//     by hardware;
//   - a compromised fleet CA key, which can admit arbitrary soft members.
//
// What it does give: authentication of envelopes by keys that only that
// process should hold, replay, reorder and duplicate protection, stale
// epoch rejection, confidentiality against the network, and transferable
// evidence against members that equivocate.
//
// # The sgx backend was compiled here but never run on SGX hardware
//
// SGXBackend is built with EGo v1.8 (github.com/edgelesssys/ego, which
// needs cgo) and passes go vet and go build, but the machines this package
// was developed and tested on have no SGX and no ego-go toolchain. What is
// tested: its verification and policy logic against a project-owned fake
// of the report API (attest/attesttest), and its behaviour outside an
// enclave with the real EGo functions on this machine (GetRemoteReport and
// VerifyRemoteReport fail with OE_UNSUPPORTED, reported as
// ErrNotInEnclave; GetProductSealKey returns 16 zero bytes without an error,
// which NewSGXBackend refuses with ErrZeroSealKey). Whether real reports
// verify, and how the TCB status of real platforms comes out, has not been
// observed. Without cgo, EGoEnclave fails with ErrNotInEnclave.
//
// # Style
//
// The core is pure: no package-level mutable state, no clock reads (time
// and epochs are passed in), randomness only through an io.Reader that
// callers may inject (key generation) and the batch verifier's internal
// coefficients.
package attest
