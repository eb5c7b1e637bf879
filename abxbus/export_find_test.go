package abxbus

// SetFindWaitingHook installs a hook called whenever a future lookup is registered (tests only).
func SetFindWaitingHook(f func(b *Bus)) { testHookFindWaiting = f }
