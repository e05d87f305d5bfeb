package awsx

import "time"

// What the tests of package awsx_test look at inside the watchers.

// AgentChunk is the most instance ids one DescribeInstanceInformation names.
const AgentChunk = agentChunk

// Ticks is how many batched calls the watcher's loop made; Waiting how many
// waits it serves now.
func (w *InstanceWatcher) Ticks() int   { return w.t.tickCount() }
func (w *InstanceWatcher) Waiting() int { return w.t.pending() }
func (w *ImageWatcher) Ticks() int      { return w.t.tickCount() }
func (w *CommandWatcher) Ticks() int    { return w.t.tickCount() }
func (w *AgentWatcher) Ticks() int      { return w.t.tickCount() }

// SetDescribeWindow sets how long the first of concurrent Describe callers
// waits for others.
func (w *ImageWatcher) SetDescribeWindow(d time.Duration) { w.c.window = d }
