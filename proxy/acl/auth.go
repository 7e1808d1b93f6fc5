package acl

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"hapair/proxy/http1"
)

// userlist is a compiled `userlist` section.
type userlist struct {
	name  string
	users map[string]*user

	mu    sync.Mutex
	cache map[[32]byte]bool // verified (user, password) pairs: crypt is slow by design
}

type user struct {
	name     string
	password string
	insecure bool
	groups   []string
}

// maxAuthCache bounds the verification cache; it is cleared when full.
const maxAuthCache = 4096

// userlist compiles the userlist called name once per Env.
func (e *Env) userlist(name string) (*userlist, error) {
	if e != nil && e.auth != nil {
		if u, ok := e.auth[name]; ok {
			return u, nil
		}
	}
	if e == nil {
		return nil, fmt.Errorf("unable to find userlist '%s'", name)
	}
	for _, ul := range e.Userlists {
		if ul.Name != name {
			continue
		}
		u := &userlist{name: name, users: map[string]*user{}, cache: map[[32]byte]bool{}}
		for _, x := range ul.Users {
			usr := &user{name: x.Name, password: x.Password, insecure: x.Insecure}
			usr.groups = append(usr.groups, x.Groups...)
			u.users[x.Name] = usr
		}
		for g, members := range ul.Groups {
			for _, m := range members {
				if usr, ok := u.users[m]; ok && !contains(usr.groups, g) {
					usr.groups = append(usr.groups, g)
				}
			}
		}
		if e.auth == nil {
			e.auth = map[string]*userlist{}
		}
		e.auth[name] = u
		return u, nil
	}
	return nil, fmt.Errorf("unable to find userlist '%s'", name)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// check returns the user whose Basic credentials the request carries, or
// nil. Hashed passwords are verified with crypt(3) forms $1$, $5$ and $6$;
// other forms (DES, bcrypt, yescrypt) never match.
func (u *userlist) check(h http1.Header) *user {
	auth := h.Get("Authorization")
	scheme, cred, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return nil
	}
	name, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil
	}
	usr := u.users[name]
	if usr == nil {
		return nil
	}
	if usr.insecure {
		if subtle.ConstantTimeCompare([]byte(pass), []byte(usr.password)) == 1 {
			return usr
		}
		return nil
	}
	key := sha256.Sum256([]byte(name + "\x00" + pass))
	u.mu.Lock()
	good, seen := u.cache[key]
	u.mu.Unlock()
	if !seen {
		good, _ = cryptVerify(pass, usr.password)
		u.mu.Lock()
		if len(u.cache) >= maxAuthCache {
			clear(u.cache)
		}
		u.cache[key] = good
		u.mu.Unlock()
	}
	if good {
		return usr
	}
	return nil
}
