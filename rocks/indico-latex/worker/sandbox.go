package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
)

// What XeLaTeX may read (and run): its programs, libraries, the TeX tree, fontconfig's settings and
// the fonts. Nothing else: not /etc/passwd, not the service account's token, not /proc of others.
var readOnly = []string{
	"/usr/bin", "/usr/lib", "/usr/share/texlive", "/usr/share/texmf", "/usr/share/fonts",
	"/usr/share/indico-latex", "/var/lib/texmf", "/etc/texmf", "/etc/fonts", "/etc/indico-latex",
	"/lib", "/lib64", "/bin",
}

const (
	memoryLimit = 2 << 30   // address space: a book of abstracts with CJK fonts needs about 600 MB
	fileLimit   = 256 << 20 // the largest file a job may write
)

// sandbox restricts this process (Landlock: reads of readOnly, writes in the job directory alone,
// no TCP connect or bind; resource limits), then replaces itself with the command.
func sandbox(args []string) error {
	flags := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	dir := flags.String("dir", "", "the job directory (the only writable place)")
	cpu := flags.Uint64("cpu-seconds", 125, "CPU seconds before the kernel stops the job")
	if err := flags.Parse(args); err != nil {
		return err
	}
	command := flags.Args()
	if *dir == "" || len(command) == 0 {
		return errors.New("usage: sandbox --dir DIR [--cpu-seconds N] -- COMMAND...")
	}
	limits := map[int]uint64{
		syscall.RLIMIT_CPU: *cpu, syscall.RLIMIT_AS: memoryLimit, syscall.RLIMIT_FSIZE: fileLimit,
		syscall.RLIMIT_CORE: 0,
	}
	// No RLIMIT_NPROC: it counts every process of the user on the node, and the rocks' processes
	// all run as _daemon_ (584792); the time limit ends the job's process group instead.
	for resource, value := range limits {
		if err := syscall.Setrlimit(resource, &syscall.Rlimit{Cur: value, Max: value}); err != nil {
			return fmt.Errorf("limit %d: %w", resource, err)
		}
	}
	rules := []landlock.Rule{
		landlock.RODirs(readOnly...).IgnoreIfMissing(),
		landlock.RWDirs(*dir),
		landlock.RWFiles("/dev/null").IgnoreIfMissing(),
		landlock.ROFiles("/dev/urandom").IgnoreIfMissing(),
	}
	if err := landlock.V7.BestEffort().Restrict(rules...); err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	return syscall.Exec(command[0], command, os.Environ())
}

// restrictOwnNetwork keeps the worker, and everything it starts, from TCP once its listener is
// bound: it connects nowhere, so nothing it runs can reach PostgreSQL or anything else in the
// pod's network. (Pebble's latex-up check runs outside it.) A kernel without Landlock's TCP
// rules leaves it as it is; sandboxSummary says so.
func restrictOwnNetwork() error {
	if err := landlock.V7.BestEffort().RestrictNet(); err != nil {
		return fmt.Errorf("landlock (the worker's own TCP): %w", err)
	}
	return nil
}

// sandboxSummary says, for the log, how much of the sandbox this kernel gives.
func sandboxSummary() string {
	abi, err := landlockABI()
	switch {
	case err != nil:
		return "no Landlock on this kernel (" + err.Error() + "): resource limits and XeLaTeX's own limits only"
	case abi < 4:
		return fmt.Sprintf("Landlock ABI %d: files limited, TCP not (needs ABI 4, Linux 6.7)", abi)
	default:
		return fmt.Sprintf("Landlock ABI %d: files and TCP limited; the worker itself makes no TCP connection", abi)
	}
}

func landlockABI() (int, error) {
	const createRulesetVersion = 1
	abi, _, errno := syscall.Syscall(444 /* landlock_create_ruleset */, 0, 0, createRulesetVersion)
	if errno != 0 {
		return 0, errno
	}
	return int(abi), nil
}
