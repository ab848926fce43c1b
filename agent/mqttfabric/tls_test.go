package mqttfabric_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/wmsr/wmsr/agent/broker"
	"github.com/wmsr/wmsr/agent/mqttfabric"
	"github.com/wmsr/wmsr/attest"
)

// testCA is a throw-away certificate authority writing PEM files.
type testCA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wmsr test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{dir: t.TempDir(), cert: cert, key: key}
	write(t, ca.path("ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return ca
}

func (ca *testCA) path(name string) string { return filepath.Join(ca.dir, name) }

// issue writes <name>.pem and <name>-key.pem for a leaf certificate.
func (ca *testCA) issue(t *testing.T, name, cn string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = ca.path(name+".pem"), ca.path(name+"-key.pem")
	write(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}

// TestMutualTLS: with mTLS and BindCertToUsername, an agent needs both its
// password and a certificate naming it; values flow over TLS.
func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	srvCert, srvKey := ca.issue(t, "server", "broker", true)
	srvTLS, err := broker.LoadTLS(srvCert, srvKey, ca.path("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := embeddedConfig()
	cfg.TLS, cfg.BindCertToUsername = srvTLS, true
	b := startEmbedded(t, cfg)

	client := func(id attest.MemberID, certCN string) mqttfabric.Config {
		c := clientConfig(b.URL(), id)
		var certFile, keyFile string
		if certCN != "" {
			certFile, keyFile = ca.issue(t, "client-"+certCN, certCN, false)
		}
		if c.TLS, err = mqttfabric.ClientTLS(ca.path("ca.pem"), certFile, keyFile, ""); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := dial(t, client(901, "901"))
	defer a.Close()
	sub := dial(t, client(902, "902"))
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sub.Subscribe(ctx, []attest.MemberID{901}); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-sub.Inbox():
		if string(d.Envelope) != "over tls" || d.From != 901 {
			t.Fatalf("got %q from %d", d.Envelope, d.From)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing arrived over TLS")
	}

	for name, c := range map[string]mqttfabric.Config{
		"certificate of another agent": client(903, "904"),
		"no client certificate":        client(903, ""),
	} {
		short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		if f, err := mqttfabric.Dial(short, c); err == nil {
			f.Close()
			t.Errorf("%s: connection accepted", name)
		}
		cancel()
	}
}

func TestBrokerConfigErrors(t *testing.T) {
	for name, cfg := range map[string]broker.Config{
		"no fleet":         {FleetToken: []byte("x")},
		"wildcard fleet":   {Fleet: "a/#", FleetToken: []byte("x")},
		"no credentials":   {Fleet: "f"},
		"bad agent name":   {Fleet: "f", Passwords: map[string][]byte{"admin": []byte("x")}},
		"bind without tls": {Fleet: "f", FleetToken: []byte("x"), BindCertToUsername: true},
	} {
		if _, err := broker.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
