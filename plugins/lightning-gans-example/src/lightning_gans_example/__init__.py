"""An example lightning-gans plugin, written the way an outside author would write one."""
