package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dialAfterRestrictSetting makes the test binary a worker that restricts its own network, then
// dials the address it names (Landlock applies to the whole process, so not in the test itself).
const dialAfterRestrictSetting = "LATEX_TEST_DIAL_AFTER_RESTRICT"

func TestMain(m *testing.M) {
	if address := os.Getenv(dialAfterRestrictSetting); address != "" {
		if err := restrictOwnNetwork(); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		conn, err := net.DialTimeout("tcp", address, 2*time.Second)
		if errors.Is(err, syscall.EACCES) {
			os.Exit(0)
		}
		if conn != nil {
			conn.Close()
		}
		fmt.Printf("dial %s after restricting: %v\n", address, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func TestOnceServingTheWorkerCannotOpenATCPConnection(t *testing.T) {
	if abi, err := landlockABI(); err != nil || abi < 4 {
		t.Skipf("needs Landlock's TCP rules (ABI 4, Linux 6.7); this kernel gives ABI %d (%v)", abi, err)
	}
	server, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	go func() {
		for {
			conn, err := server.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	reachable, err := net.DialTimeout("tcp", server.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatalf("the address does not take connections even before the restriction: %v", err)
	}
	reachable.Close()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), dialAfterRestrictSetting+"="+server.Addr().String())
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("the restricted worker connected, or failed otherwise: %v %s", err, out)
	}
}

func TestSocketNetworkTakesAPathOrALoopbackAddress(t *testing.T) {
	for address, want := range map[string]string{
		"/srv/indico-latex/latex.sock": "unix",
		"127.0.0.1:8089":               "tcp",
		"[::1]:8089":                   "tcp",
	} {
		got, err := socketNetwork(address)
		if err != nil || got != want {
			t.Errorf("socketNetwork(%q) = %q, %v; want %q", address, got, err, want)
		}
	}
}

func TestSocketNetworkRefusesAnAddressBeyondThePod(t *testing.T) {
	for _, address := range []string{"0.0.0.0:8089", ":8089", "10.1.2.3:8089", "latex:8089", "latex.sock"} {
		_, err := socketNetwork(address)
		if err == nil {
			t.Errorf("socketNetwork(%q) accepted an address other containers or hosts could reach", address)
			continue
		}
		if !strings.Contains(err.Error(), "LATEX_SOCKET") {
			t.Errorf("socketNetwork(%q): the error %q does not name the setting", address, err)
		}
	}
}

func TestListenServesOnAUnixSocketOnlyItsUserAndGroupMayUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs", "latex.sock")
	listener, err := listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("the socket refused a connection: %v", err)
	}
	conn.Close()
	if mode := socketMode(t, path); mode != 0o660 {
		t.Errorf("socket mode %o, want 660", mode)
	}
}

func TestListenRefusesAWildcardAddressBeforeOpeningIt(t *testing.T) {
	listener, err := listen("0.0.0.0:0")
	if err == nil {
		listener.Close()
		t.Fatal("listen opened 0.0.0.0")
	}
}

func socketMode(t *testing.T, path string) uint32 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(info.Mode().Perm())
}

// A job that is not one (no JSON line) is answered with its error, on both transports: the
// worker's reading and answering do not depend on which one the client came by.
func TestABadRequestIsAnsweredOnBothTransports(t *testing.T) {
	for _, address := range []string{filepath.Join(t.TempDir(), "latex.sock"), "127.0.0.1:0"} {
		listener, err := listen(address)
		if err != nil {
			t.Fatal(err)
		}
		settings := settings{timeout: 5 * time.Second, maxBytes: 1 << 20, jobsDir: t.TempDir(), concurrency: 1}
		go acceptJobs(listener, settings)
		network, _ := socketNetwork(address)
		client, err := net.DialTimeout(network, listener.Addr().String(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		client.Write([]byte("this is not a job\n"))
		client.(jobConn).CloseWrite()
		client.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(client).ReadString('\n')
		client.Close()
		listener.Close()
		var got answer
		if err != nil || json.Unmarshal([]byte(line), &got) != nil || got.Exit != 1 || got.Error == "" {
			t.Errorf("%s: answer %q (%v), want exit 1 with the error", network, line, err)
		}
	}
}
