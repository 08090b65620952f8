// indico-latex-worker runs Indico's XeLaTeX jobs apart from Indico: it takes each job (a tar of
// Indico's source directory) on a Unix socket shared with the indico container, or on loopback TCP
// in a pod, runs XeLaTeX on it in a fresh directory, sandboxed, and answers with the files the run
// wrote (the PDF, the log, the .aux and .toc a second run reads) and XeLaTeX's console output.
//
//	indico-latex-worker serve     the service (settings from the environment, see serve.go)
//	indico-latex-worker check     the rock's health check: the socket takes a connection
//	indico-latex-worker sandbox   internal: restricts itself, then becomes XeLaTeX (sandbox.go)
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve()
	case "sandbox":
		err = sandbox(os.Args[2:])
	case "check":
		err = check()
	case "-h", "--help", "help":
		usage()
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "indico-latex-worker %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: indico-latex-worker serve | check | sandbox --dir DIR -- COMMAND...

serve: listen on LATEX_SOCKET and run each job sent there by the indico rock's indico-xelatex.
       Settings (environment):
         LATEX_SOCKET        a Unix socket path (default /srv/indico-latex/latex.sock) or a
                             loopback host:port (127.0.0.1:8089); other addresses are refused
         LATEX_JOB_TIMEOUT   seconds a job may run before it is killed (default 120)
         LATEX_MAX_JOB_MB    largest job, and largest answer, in MiB (default 64)
         LATEX_CONCURRENCY   jobs at once (default 2; more wait their turn)
         LATEX_JOBS_DIR      where job directories are made (default /tmp/indico-latex)
check: connect to LATEX_SOCKET and leave (the rock's latex-up check).
sandbox: internal; the serve command runs each job through it.
`)
	os.Exit(64)
}
