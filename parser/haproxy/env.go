package haproxy

// envOverlay is the environment as the configuration sees it while it is
// read: the process environment (or LoadOptions.Env) changed by the global
// keywords setenv, presetenv, unsetenv and resetenv. HAProxy applies them
// when it reads the line, so "${NAME}" on later lines sees the new value;
// the overlay does the same without changing goproxy's own environment.
type envOverlay struct {
	base    func(string) (string, bool)
	set     map[string]string
	unset   map[string]bool
	cleared bool // resetenv: only names in set remain
}

func newEnvOverlay(base func(string) (string, bool)) *envOverlay {
	return &envOverlay{base: base, set: map[string]string{}, unset: map[string]bool{}}
}

// lookup finds name in the overlay, then in the base environment.
func (e *envOverlay) lookup(name string) (string, bool) {
	if v, ok := e.set[name]; ok {
		return v, true
	}
	if e.unset[name] || e.cleared {
		return "", false
	}
	return e.base(name)
}

// apply changes the overlay when words are an environment keyword line
// (setenv, presetenv, unsetenv, resetenv) and ignores any other line.
func (e *envOverlay) apply(words []string) {
	if len(words) == 0 {
		return
	}
	switch words[0] {
	case "setenv":
		if len(words) >= 3 {
			e.set[words[1]] = words[2]
			delete(e.unset, words[1])
		}
	case "presetenv":
		if len(words) >= 3 {
			if _, ok := e.lookup(words[1]); !ok {
				e.set[words[1]] = words[2]
				delete(e.unset, words[1])
			}
		}
	case "unsetenv":
		for _, n := range words[1:] {
			delete(e.set, n)
			e.unset[n] = true
		}
	case "resetenv":
		keep := map[string]string{}
		for _, n := range words[1:] {
			if v, ok := e.lookup(n); ok {
				keep[n] = v
			}
		}
		e.set, e.unset, e.cleared = keep, map[string]bool{}, true
	}
}
