// The guest architectures the HIL suite boots.
export type Arch = 'x86_64' | 'aarch64';
