package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
