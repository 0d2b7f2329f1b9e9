// Command scenario runs one interop scenario with the official Apache RocketMQ
// Go client against the broker behind a nameserver address:
//
//	scenario SCENARIO NAMESRV_ADDR
//
// It prints ok:/FAIL: lines and a closing count, and exits 0 when every
// check passed, 3 when one failed, 4 when the hang guard fired
// (INTEROP_GO_HANG_GUARD_SECONDS, default 240) and 1 on bad usage.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// scenarios maps each scenario name to its body.
var scenarios = map[string]func(c *check, namesrv string){
	"send": sendScenario,
	"push": pushScenario,
}

func main() {
	if len(os.Args) != 3 || scenarios[os.Args[1]] == nil {
		names := make([]string, 0, len(scenarios))
		for name := range scenarios {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: scenario SCENARIO NAMESRV_ADDR; scenarios: %s\n", strings.Join(names, ", "))
		os.Exit(1)
	}
	name, namesrv := os.Args[1], os.Args[2]
	// The client logs every rebalance and heartbeat at info; only trouble is
	// worth reading, unless ROCKETMQ_GO_LOG_LEVEL (read by rlog) asks for more.
	if os.Getenv("ROCKETMQ_GO_LOG_LEVEL") == "" {
		rlog.SetLogLevel("warn")
	}

	c := newCheck(name)
	startHangGuard(c, name, hangGuard())
	step("scenario %s with rocketmq-client-go against %s", name, namesrv)
	c.run(func() { scenarios[name](c, namesrv) })
	if c.finish() > 0 {
		os.Exit(3)
	}
}

// hangGuard is how long a scenario may run before it is failed as hung.
func hangGuard() time.Duration {
	if s := os.Getenv("INTEROP_GO_HANG_GUARD_SECONDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 240 * time.Second
}

// startHangGuard fails the scenario after d, dumps every goroutine to stderr
// and exits 4, so that a hung client shows where it hangs.
func startHangGuard(c *check, name string, d time.Duration) {
	time.AfterFunc(d, func() {
		c.fail("hang guard: scenario %s still running after %s", name, d)
		buf := make([]byte, 1<<20)
		os.Stderr.Write(buf[:runtime.Stack(buf, true)])
		c.finish()
		os.Exit(4)
	})
}

// step prints a progress line.
func step(format string, args ...any) {
	fmt.Printf("== %s\n", fmt.Sprintf(format, args...))
}
