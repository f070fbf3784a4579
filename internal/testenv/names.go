package testenv

import (
	"strconv"
	"sync"
)

var controllerNames = struct {
	sync.Mutex
	used map[string]int
}{used: map[string]int{}}

// UniqueControllerName returns name on its first use in the process and name-2, name-3, ...
// after: controller-runtime refuses two controllers of one name in a process (their metrics
// would mix), which `go test -count=N` would otherwise hit as every run starts its controllers
// under the same names again. The product keeps that check.
func UniqueControllerName(name string) string {
	controllerNames.Lock()
	defer controllerNames.Unlock()
	for {
		controllerNames.used[name]++
		n := controllerNames.used[name]
		if n == 1 {
			return name
		}
		// name-2 may itself be a name some test asks for; take the next free one.
		if candidate := name + "-" + strconv.Itoa(n); controllerNames.used[candidate] == 0 {
			controllerNames.used[candidate] = 1
			return candidate
		}
	}
}
