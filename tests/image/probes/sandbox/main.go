// A probe run inside the indico-latex rock's sandbox by tests/image/test_latex_rock.py: what a
// job that escaped XeLaTeX could do. It tries a TCP connection and reads files, and prints one line
// per attempt: "<what> ok" or "<what> denied: <error>".
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe HOST:PORT [FILE...]")
		os.Exit(64)
	}
	conn, err := net.DialTimeout("tcp", os.Args[1], 3*time.Second)
	report("connect "+os.Args[1], err)
	if err == nil {
		conn.Close()
	}
	for _, path := range os.Args[2:] {
		_, err := os.ReadFile(path)
		report("read "+path, err)
	}
	err = os.WriteFile("/tmp/probe-escaped", []byte("x"), 0o600)
	report("write /tmp/probe-escaped", err)
}

func report(what string, err error) {
	if err != nil {
		fmt.Printf("%s denied: %v\n", what, err)
	} else {
		fmt.Printf("%s ok\n", what)
	}
}
