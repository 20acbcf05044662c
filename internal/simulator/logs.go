package simulator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Logs writes each simulated pod's container log the way a kubelet keeps it (the CRI format:
// "TIME STREAM F MESSAGE" lines) in DIR/NAMESPACE/POD/current.log, and the log of the previous
// container, for a pod that restarted, in previous.log; kwok serves them as the pod's logs.
// What the lines say follows the behaviour table: a healthy pod logs its requests, a bad one
// its 5xx responses too, a slow one its slow requests, a leaking one its growing heap, and a
// crash pod starts, panics, and starts again every CrashEvery.
type Logs struct {
	Dir string
	// CrashEvery is how long a crash pod's container runs before it panics (default 10s).
	CrashEvery time.Duration
	now        func() time.Time

	mu   sync.Mutex
	pods map[podKey]*logPod
}

type logPod struct {
	Pod
	b        Behaviour
	dir      string
	f        *os.File
	seq      int
	restarts int
	born     time.Time // the current container's start
}

// NewLogs writes logs under dir.
func NewLogs(dir string, now func() time.Time) *Logs {
	if now == nil {
		now = time.Now
	}
	return &Logs{Dir: dir, CrashEvery: 10 * time.Second, now: now, pods: map[podKey]*logPod{}}
}

// Files are the paths of a pod's current and previous container logs.
func (l *Logs) Files(namespace, name string) (current, previous string) {
	d := filepath.Join(l.Dir, namespace, name)
	return filepath.Join(d, "current.log"), filepath.Join(d, "previous.log")
}

// Upsert starts the log of a new pod (it reports true), or follows a known pod's image.
func (l *Logs) Upsert(p Pod) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := podKey{p.Namespace, p.Name}
	if lp, ok := l.pods[k]; ok {
		lp.Pod, lp.b = p, BehaviourFor(p.Image)
		return false, nil
	}
	lp := &logPod{Pod: p, b: BehaviourFor(p.Image), dir: filepath.Join(l.Dir, p.Namespace, p.Name)}
	if err := os.MkdirAll(lp.dir, 0o755); err != nil {
		return false, err
	}
	if err := l.start(lp); err != nil {
		return false, err
	}
	if crashes(p.Image) {
		// The pod's status says it has crashed already (the sandbox's crash stage reports
		// restarts at once), so its previous container's log exists from the start.
		l.crash(lp)
		if lp.f == nil {
			return false, fmt.Errorf("restarting the log of %s/%s after its first crash", p.Namespace, p.Name)
		}
	}
	l.pods[k] = lp
	return true, nil
}

// Delete closes and removes a pod's logs; it reports whether the pod was known.
func (l *Logs) Delete(namespace, name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := podKey{namespace, name}
	lp, ok := l.pods[k]
	if !ok {
		return false
	}
	if lp.f != nil {
		lp.f.Close()
	}
	os.RemoveAll(lp.dir)
	delete(l.pods, k)
	return true
}

// start opens a fresh current.log and writes the container's start lines.
func (l *Logs) start(lp *logPod) error {
	cur, _ := l.Files(lp.Namespace, lp.Name)
	f, err := os.OpenFile(cur, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	lp.f, lp.born = f, l.now()
	l.write(lp, "stdout", fmt.Sprintf("starting %s (image %s, container %s)", lp.Name, lp.Image, lp.Container))
	if lp.restarts > 0 {
		l.write(lp, "stdout", fmt.Sprintf("restart %d after a crash", lp.restarts))
	}
	l.write(lp, "stdout", "listening on :8080")
	return nil
}

// Tick writes one second's lines for every pod, and restarts crash pods that are due.
func (l *Logs) Tick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, lp := range l.pods {
		if lp.f == nil {
			continue
		}
		if crashes(lp.Image) {
			if now.Sub(lp.born) >= l.CrashEvery {
				l.crash(lp)
			}
			continue
		}
		lp.seq++
		l.write(lp, "stdout", fmt.Sprintf("INFO GET /api/items/%d 200 %dms request_id=%s-%d", lp.seq%997, 8+lp.seq%17, shortName(lp.Name), lp.seq))
		if lp.b.ErrorRatio >= 0.1 {
			l.write(lp, "stderr", fmt.Sprintf("ERROR POST /api/checkout 500 upstream payment-db: connection reset by peer request_id=%s-%d", shortName(lp.Name), lp.seq))
		}
		if lp.b.P99 >= 1 {
			l.write(lp, "stdout", fmt.Sprintf("WARN GET /api/search 200 %dms slow response request_id=%s-%d", 1800+lp.seq%400, shortName(lp.Name), lp.seq))
		}
		if lp.b.MemoryGrowth > 0 {
			l.write(lp, "stdout", fmt.Sprintf("WARN heap in use %d MiB and growing", 120+int(now.Sub(lp.Started).Seconds()*lp.b.MemoryGrowth/MiB)))
		}
	}
}

// crash writes the panic, keeps the log as the previous container's and starts a new one.
func (l *Logs) crash(lp *logPod) {
	l.write(lp, "stderr", "panic: runtime error: invalid memory address or nil pointer dereference")
	l.write(lp, "stderr", "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6b1f2a]")
	l.write(lp, "stderr", "")
	l.write(lp, "stderr", "goroutine 1 [running]:")
	l.write(lp, "stderr", "main.(*Server).loadConfig(0x0)")
	l.write(lp, "stderr", "\t/src/server.go:42 +0x2a")
	l.write(lp, "stderr", "main.main()")
	l.write(lp, "stderr", "\t/src/main.go:17 +0x65")
	lp.f.Close()
	cur, prev := l.Files(lp.Namespace, lp.Name)
	_ = os.Rename(cur, prev)
	lp.restarts++
	if err := l.start(lp); err != nil {
		lp.f = nil
	}
}

func crashes(image string) bool { return !BehaviourFor(image).Serving }

func shortName(pod string) string {
	if i := strings.LastIndexByte(pod, '-'); i >= 0 {
		return pod[i+1:]
	}
	return pod
}

// write appends one CRI log line.
func (l *Logs) write(lp *logPod, stream, msg string) {
	fmt.Fprintf(lp.f, "%s %s F %s\n", l.now().UTC().Format(time.RFC3339Nano), stream, msg)
}
