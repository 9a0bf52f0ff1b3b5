package loggen

import (
	"io"
	"strconv"
	"time"
)

// syslogTimeLayout is the RFC 3164 timestamp: no year, no zone, and the day
// padded with a space ("Jan  1").
const syslogTimeLayout = "Jan _2 15:04:05"

// Syslog writes n lines of an RFC 3164 style auth.log, as rsyslog writes it
// on Debian:
//
//	Oct 10 13:55:36 web01 sshd[1234]: Accepted publickey for alice from 198.51.100.7 port 52113 ssh2
//
// with failed and invalid-user password attempts, PAM session lines, sudo
// commands, systemd-logind sessions and CRON jobs. Timestamps advance by whole
// seconds. The format has no year: a start shortly before midnight on
// December 31 gives a file that crosses New Year ("Dec 31 23:59:58" then
// "Jan  1 00:00:03"), which is how readers that infer the year get tested.
func Syslog(w io.Writer, n int, seed uint64, start time.Time) error {
	r := newRNG(seed)
	g := &syslogGen{
		r:        r,
		t:        start.Truncate(time.Second),
		attack:   newIPPool(r, 12, 0),
		trusted:  newIPPool(r, 4, 0),
		session:  r.between(1, 400),
		logindID: r.between(500, 900),
	}
	g.stamp = g.t.AppendFormat(nil, syslogTimeLayout)
	return write(w, n, g.line)
}

type syslogGen struct {
	r        *rng
	t        time.Time
	stamp    []byte
	attack   ipPool // brute-force sources
	trusted  ipPool // where the real users log in from
	session  int    // systemd-logind session numbers only go up
	logindID int    // systemd-logind's pid, stable for the run
}

var (
	syslogHosts   = []string{"web01", "web02", "db01"}
	sshUsers      = []string{"alice", "bob", "deploy"}
	invalidUsers  = []string{"admin", "oracle", "test", "ubuntu", "pi", "git", "user1", "postgres"}
	sshKeyTypes   = []string{"ED25519", "RSA", "ECDSA"}
	sudoCommands  = []string{"/usr/bin/systemctl reload nginx", "/usr/bin/journalctl -u app --since today", "/usr/bin/apt-get update", "/bin/cat /var/log/nginx/error.log"}
	cronCommands  = []string{"command -v debian-sa1 > /dev/null && debian-sa1 1 1", "cd / && run-parts --report /etc/cron.hourly", "/usr/local/bin/backup.sh --quiet", "[ -x /usr/lib/php/sessionclean ] && /usr/lib/php/sessionclean"}
	keyFingerChar = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

var userUIDs = map[string]int{"alice": 1000, "bob": 1001, "deploy": 1002, "root": 0}

type syslogEvent int

const (
	slAccepted syslogEvent = iota
	slFailedInvalid
	slFailedRoot
	slInvalidUser
	slPreauthClose
	slSessionOpened
	slDisconnected
	slSudo
	slLogindNew
	slLogindRemoved
	slCron
	slCronSession
)

var syslogEvents = newWeighted(
	wv[syslogEvent]{10, slAccepted},
	wv[syslogEvent]{20, slFailedInvalid},
	wv[syslogEvent]{10, slFailedRoot},
	wv[syslogEvent]{10, slInvalidUser},
	wv[syslogEvent]{8, slPreauthClose},
	wv[syslogEvent]{8, slSessionOpened},
	wv[syslogEvent]{6, slDisconnected},
	wv[syslogEvent]{6, slSudo},
	wv[syslogEvent]{5, slLogindNew},
	wv[syslogEvent]{4, slLogindRemoved},
	wv[syslogEvent]{8, slCron},
	wv[syslogEvent]{5, slCronSession},
)

func (g *syslogGen) tick() {
	step := g.r.intn(6) // 0..5 s, 2.5 s on average
	if step == 0 {
		return
	}
	g.t = g.t.Add(time.Duration(step) * time.Second)
	g.stamp = g.t.AppendFormat(g.stamp[:0], syslogTimeLayout)
}

// appendProc appends "name[pid]: ".
func appendProc(b []byte, name string, pid int) []byte {
	b = append(b, name...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(pid), 10)
	return append(b, "]: "...)
}

func appendFromPort(b []byte, r *rng, ip string) []byte {
	b = append(b, " from "...)
	b = append(b, ip...)
	b = append(b, " port "...)
	return strconv.AppendInt(b, int64(r.between(1024, 65535)), 10)
}

func appendUserUID(b []byte, user string) []byte {
	b = append(b, user...)
	b = append(b, "(uid="...)
	b = strconv.AppendInt(b, int64(userUIDs[user]), 10)
	return append(b, ')')
}

func (g *syslogGen) line(b []byte) []byte {
	r := g.r
	b = append(b, g.stamp...)
	b = append(b, ' ')
	b = append(b, r.pick(syslogHosts)...)
	b = append(b, ' ')
	sshdPID := r.between(1000, 65535)

	switch syslogEvents.pick(r) {
	case slAccepted:
		b = appendProc(b, "sshd", sshdPID)
		b = append(b, "Accepted publickey for "...)
		b = append(b, r.pick(sshUsers)...)
		b = appendFromPort(b, r, g.trusted.pick(r))
		b = append(b, " ssh2"...)
		if r.percent(50) {
			// Newer OpenSSH appends the key type and fingerprint.
			b = append(b, ": "...)
			b = append(b, r.pick(sshKeyTypes)...)
			b = append(b, " SHA256:"...)
			for range 43 {
				b = append(b, keyFingerChar[r.intn(len(keyFingerChar))])
			}
		}
	case slFailedInvalid:
		b = appendProc(b, "sshd", sshdPID)
		b = append(b, "Failed password for invalid user "...)
		b = append(b, r.pick(invalidUsers)...)
		b = appendFromPort(b, r, g.attack.pick(r))
		b = append(b, " ssh2"...)
	case slFailedRoot:
		b = appendProc(b, "sshd", sshdPID)
		b = append(b, "Failed password for root"...)
		b = appendFromPort(b, r, g.attack.pick(r))
		b = append(b, " ssh2"...)
	case slInvalidUser:
		b = appendProc(b, "sshd", sshdPID)
		b = append(b, "Invalid user "...)
		b = append(b, r.pick(invalidUsers)...)
		b = appendFromPort(b, r, g.attack.pick(r))
	case slPreauthClose:
		b = appendProc(b, "sshd", sshdPID)
		b = append(b, "Connection closed by authenticating user root "...)
		b = append(b, g.attack.pick(r)...)
		b = append(b, " port "...)
		b = strconv.AppendInt(b, int64(r.between(1024, 65535)), 10)
		b = append(b, " [preauth]"...)
	case slSessionOpened:
		b = appendProc(b, "sshd", sshdPID)
		b = append(b, "pam_unix(sshd:session): session opened for user "...)
		b = appendUserUID(b, r.pick(sshUsers))
		b = append(b, " by (uid=0)"...)
	case slDisconnected:
		b = appendProc(b, "sshd", sshdPID)
		b = append(b, "Disconnected from user "...)
		b = append(b, r.pick(sshUsers)...)
		b = append(b, ' ')
		b = append(b, g.trusted.pick(r)...)
		b = append(b, " port "...)
		b = strconv.AppendInt(b, int64(r.between(1024, 65535)), 10)
	case slSudo:
		// sudo logs without a pid and pads the user name.
		user := r.pick(sshUsers)
		b = append(b, "sudo:    "...)
		b = append(b, user...)
		b = append(b, " : TTY=pts/"...)
		b = strconv.AppendInt(b, int64(r.intn(4)), 10)
		b = append(b, " ; PWD=/home/"...)
		b = append(b, user...)
		b = append(b, " ; USER=root ; COMMAND="...)
		b = append(b, r.pick(sudoCommands)...)
	case slLogindNew:
		g.session++
		b = appendProc(b, "systemd-logind", g.logindID)
		b = append(b, "New session "...)
		b = strconv.AppendInt(b, int64(g.session), 10)
		b = append(b, " of user "...)
		b = append(b, r.pick(sshUsers)...)
		b = append(b, '.')
	case slLogindRemoved:
		b = appendProc(b, "systemd-logind", g.logindID)
		b = append(b, "Removed session "...)
		b = strconv.AppendInt(b, int64(g.session-r.intn(3)), 10)
		b = append(b, '.')
	case slCron:
		b = appendProc(b, "CRON", sshdPID)
		b = append(b, "(root) CMD ("...)
		b = append(b, r.pick(cronCommands)...)
		b = append(b, ')')
	case slCronSession:
		b = appendProc(b, "CRON", sshdPID)
		if r.percent(50) {
			b = append(b, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"...)
		} else {
			b = append(b, "pam_unix(cron:session): session closed for user root"...)
		}
	}
	// Advancing after the line puts the first line at start exactly.
	g.tick()
	return append(b, '\n')
}
