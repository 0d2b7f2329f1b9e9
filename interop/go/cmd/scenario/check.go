package main

import (
	"fmt"
	"sync"
)

// check counts passed and failed checks and prints each as it happens.
type check struct {
	scenario string
	mu       sync.Mutex
	passed   int
	failed   int
	done     bool
}

// abort stops a scenario whose later checks would be meaningless.
type abort struct{ why string }

func newCheck(scenario string) *check {
	return &check{scenario: scenario}
}

// ok records a passed check.
func (c *check) ok(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.passed++
	fmt.Printf("ok: %s\n", fmt.Sprintf(format, args...))
}

// fail records a failed check.
func (c *check) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed++
	fmt.Printf("FAIL: %s\n", fmt.Sprintf(format, args...))
}

// that records a check passed when cond holds, failed otherwise.
func (c *check) that(cond bool, format string, args ...any) bool {
	if cond {
		c.ok(format, args...)
	} else {
		c.fail(format, args...)
	}
	return cond
}

// must is that, stopping the scenario when cond does not hold.
func (c *check) must(cond bool, format string, args ...any) {
	if !c.that(cond, format, args...) {
		panic(abort{fmt.Sprintf(format, args...)})
	}
}

// noErr fails (and stops the scenario) when err is set.
func (c *check) noErr(err error, format string, args ...any) {
	what := fmt.Sprintf(format, args...)
	if err != nil {
		c.fail("%s: %v", what, err)
		panic(abort{what})
	}
}

// run calls body, turning an abort into a stop and any other panic into a failure.
func (c *check) run(body func()) {
	defer func() {
		switch r := recover().(type) {
		case nil:
		case abort:
			fmt.Printf("(scenario stopped: %s)\n", r.why)
		default:
			c.fail("unexpected panic: %v", r)
		}
	}()
	body()
}

// finish prints the closing count once and returns the number of failures.
func (c *check) finish() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		c.done = true
		if c.passed+c.failed == 0 {
			c.failed++
			fmt.Println("FAIL: no check ran")
		}
		fmt.Printf("scenario %s with rocketmq-client-go: %d passed, %d failed\n", c.scenario, c.passed, c.failed)
	}
	return c.failed
}
