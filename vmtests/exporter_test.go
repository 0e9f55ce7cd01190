package vmtests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fstrace/fstrace/pkg/metrics"
)

// The exporter at its door (issue 11.5): TLS that requires a client
// certificate, a flood of scrapes, and clients that send slowly or never
// read, all while events flow; none of it may cost an event.

const exporterFiles = 1500

func init() {
	helpers["exporter-load"] = func(h helperEnv) error {
		if err := awaitFile(h.dir + "/go"); err != nil {
			return err
		}
		for i := 0; i < exporterFiles; i++ {
			if err := os.WriteFile(fmt.Sprintf("%s/files/f%04d", h.dir, i), nil, 0o644); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
		if err := os.WriteFile(h.dir+"/load-done", nil, 0o644); err != nil {
			return err
		}
		if err := awaitFile(h.dir + "/stop"); err != nil {
			return err
		}
		return os.WriteFile(h.dir+"/files/last", nil, 0o644)
	}
}

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, and a second, unrelated CA's client certificate.
type pki struct {
	caFile, certFile, keyFile string
	client, rogue             tls.Certificate
	pool                      *x509.CertPool
}

func newCert(t *testing.T, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key, der
}

func pemFile(t *testing.T, path, typ string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func tlsPair(t *testing.T, der []byte, key *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func makePKI(t *testing.T, dir string) pki {
	t.Helper()
	now := time.Now().Add(-time.Hour)
	ca := func(name string, serial int64) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now, NotAfter: now.Add(48 * time.Hour), IsCA: true,
			KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
		}
	}
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now, NotAfter: now.Add(48 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
	}
	caCert, caKey, caDER := newCert(t, ca("fstrace test CA", 1), nil, nil)
	_, srvKey, srvDER := newCert(t, leaf("fstrace", 2, x509.ExtKeyUsageServerAuth), caCert, caKey)
	_, cliKey, cliDER := newCert(t, leaf("prometheus", 3, x509.ExtKeyUsageClientAuth), caCert, caKey)
	rogueCA, rogueKey, _ := newCert(t, ca("another CA", 4), nil, nil)
	_, rKey, rDER := newCert(t, leaf("prometheus", 5, x509.ExtKeyUsageClientAuth), rogueCA, rogueKey)

	p := pki{
		caFile: filepath.Join(dir, "ca.crt"), certFile: filepath.Join(dir, "server.crt"), keyFile: filepath.Join(dir, "server.key"),
		client: tlsPair(t, cliDER, cliKey), rogue: tlsPair(t, rDER, rKey), pool: x509.NewCertPool(),
	}
	p.pool.AddCert(caCert)
	pemFile(t, p.caFile, "CERTIFICATE", caDER)
	pemFile(t, p.certFile, "CERTIFICATE", srvDER)
	kb, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pemFile(t, p.keyFile, "EC PRIVATE KEY", kb)
	return p
}

// client is an HTTPS client presenting certs, with up to conns connections.
func (p pki) httpClient(conns int, certs ...tls.Certificate) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: certs},
			MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns,
			// Uncompressed, as Prometheus can scrape: gzip of each
			// answer is most of a scrape's time in the guests.
			DisableCompression: true,
		},
	}
}

// get fetches url and returns its status and body.
func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// vmKiB is a field of /proc/PID/status in KiB.
func vmKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func TestExporterAtTheDoor(t *testing.T) {
	if inGuest() {
		// Nothing of it depends on the kernel, and a thousand TLS
		// scrapes under software emulation cost two minutes a guest.
		t.Skip("the exporter's doors do not depend on the kernel: hosttest runs this")
	}
	forOneMode(t, func(t *testing.T, mode string) {
		dir := testDir(t)
		if err := os.Mkdir(dir+"/files", 0o755); err != nil {
			t.Fatal(err)
		}
		p := makePKI(t, dir)
		web := filepath.Join(dir, "web.yml")
		if err := os.WriteFile(web, []byte(fmt.Sprintf(
			"tls_server_config:\n  cert_file: %s\n  key_file: %s\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: %s\n",
			p.certFile, p.keyFile, p.caFile)), 0o644); err != nil {
			t.Fatal(err)
		}
		addr := freePort(t)
		url := "https://" + addr + "/metrics"
		run := startTrace(t, mode, dir, "exporter-load", "-e", "create", "--path", dir+"/files",
			"--metrics-addr", addr, "--web.config.file", web)
		defer run.cmd.Process.Kill()
		good := p.httpClient(1, p.client)
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			code, body, err := get(good, url)
			if err == nil && code == 200 && strings.Contains(body, "fstrace_events_total") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no scrape over TLS with the client certificate: %d %v\n%s", code, err, run.stderr.String())
			}
		}

		// Without a certificate, with one of another CA, in plain HTTP: no metrics.
		for name, c := range map[string]*http.Client{
			"no client certificate":              p.httpClient(1),
			"a client certificate of another CA": p.httpClient(1, p.rogue),
			"plain HTTP":                         {Timeout: 30 * time.Second},
		} {
			u := url
			if name == "plain HTTP" {
				u = "http://" + addr + "/metrics"
			}
			if code, body, err := get(c, u); err == nil && (code == 200 || strings.Contains(body, "fstrace_")) {
				t.Errorf("%s: got %d and metrics", name, code)
			}
		}

		// Slow clients, held open for the rest of the run: connections
		// that never send a request, and requests whose answer is never read.
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for i := 0; i < 20; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		for i := 0; i < 10; i++ {
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}})
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
			held = append(held, c)
		}

		fpid := run.cmd.Process.Pid
		rssBefore := vmKiB(t, fpid, "VmRSS")
		if err := os.WriteFile(dir+"/go", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		// The flood: 1 000 scrapes, 50 at a time, while the helper creates.
		flood := p.httpClient(50, p.client)
		var mu sync.Mutex
		codes := map[int]int{}
		var shed int // connections the loaded server closed (reset, EOF)
		var firstErr error
		var wg sync.WaitGroup
		for w := 0; w < 50; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					code, _, err := get(flood, url)
					mu.Lock()
					switch {
					case err != nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
						// Shedding load is allowed: a connection whose
						// request headers the server had not read in
						// 10 s (ReadHeaderTimeout) is closed.
						shed++
					case err != nil:
						if firstErr == nil {
							firstErr = err
						}
					default:
						codes[code]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		rssAfter := vmKiB(t, fpid, "VmRSS")
		t.Logf("1000 scrapes while events flow: status %v, %d connections shed; fstrace's VmRSS %d -> %d KiB", codes, shed, rssBefore, rssAfter)
		if firstErr != nil {
			t.Errorf("a scrape of the flood failed: %v", firstErr)
		}
		if codes[200]+codes[503]+shed != 1000 || codes[200] < 500 || shed > 100 {
			t.Errorf("want 1000 answers, each 200 or 503 (past %d at once), at least half 200, at most 100 connections shed: %v, %d shed", metrics.MaxScrapes, codes, shed)
		}
		if grow := rssAfter - rssBefore; grow > 64<<10 {
			t.Errorf("fstrace's RSS grew by %d KiB during the flood", grow)
		}
		// The exporter still answers one at a time, with the slow ones held.
		if code, _, err := get(good, url); err != nil || code != 200 {
			t.Errorf("scrape after the flood: %d %v", code, err)
		}

		waitFile(t, dir+"/load-done")
		os.WriteFile(dir+"/stop", nil, 0o644)
		r := run.wait(t)
		if r.status != 0 {
			t.Fatalf("fstrace exited %d:\n%s", r.status, r.stderr)
		}
		if m := summaryRE.FindStringSubmatch(r.stderr); m == nil || m[2] != "0" {
			t.Fatalf("no summary, or events lost:\n%s", r.stderr)
		}
		for i := 0; i < exporterFiles; i++ {
			if n := len(r.find("create", fmt.Sprintf("%s/files/f%04d", dir, i))); n != 1 {
				t.Fatalf("create of f%04d seen %d times: the exporter's load cost events", i, n)
			}
		}
		if len(r.find("create", dir+"/files/last")) != 1 {
			t.Error("the create after the flood was not delivered")
		}
	})
}
