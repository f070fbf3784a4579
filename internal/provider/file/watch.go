package file

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
)

// watcher signals changes under a folder tree, debounced: an editor's save (write, rename,
// chmod) or a `cp -r` of many files becomes one signal once things are quiet for the debounce.
type watcher struct {
	fs       *fsnotify.Watcher
	root     string
	skip     []string
	debounce time.Duration
	log      logr.Logger
	watched  map[string]bool
}

func newWatcher(root string, debounce time.Duration, log logr.Logger, skip ...string) (*watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	wt := &watcher{fs: w, root: root, debounce: debounce, log: log, watched: map[string]bool{}}
	for _, s := range skip {
		if a, err := filepath.Abs(s); err == nil {
			wt.skip = append(wt.skip, a)
		}
	}
	if err := wt.addTree(); err != nil {
		_ = w.Close()
		return nil, err
	}
	return wt, nil
}

// addTree watches every directory under root not watched yet; fsnotify is not recursive, and
// directories created later must be added as they appear.
func (w *watcher) addTree() error {
	return filepath.WalkDir(w.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			if path == w.root {
				return err
			}
			return nil
		}
		abs, _ := filepath.Abs(path)
		if path != w.root && (strings.HasPrefix(e.Name(), ".") || slices.Contains(w.skip, abs)) {
			return filepath.SkipDir
		}
		if w.watched[path] {
			return nil
		}
		if err := w.fs.Add(path); err != nil {
			return fmt.Errorf("watch %s: %w", path, err)
		}
		w.watched[path] = true
		return nil
	})
}

// run sends on changed after each debounced burst of events, until ctx ends.
func (w *watcher) run(ctx context.Context, changed chan<- struct{}) {
	defer func() { _ = w.fs.Close() }()
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if ev.Op.Has(fsnotify.Remove) || ev.Op.Has(fsnotify.Rename) {
				delete(w.watched, ev.Name) // fsnotify drops watches of removed directories
			}
			timer = time.After(w.debounce)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			w.log.Error(err, "watch manifests", "dir", w.root)
			timer = time.After(w.debounce)
		case <-timer:
			timer = nil
			if err := w.addTree(); err != nil {
				w.log.Error(err, "watch new directories", "dir", w.root)
			}
			select {
			case changed <- struct{}{}:
			default: // a reload is already pending; it will see this change too
			}
		}
	}
}
