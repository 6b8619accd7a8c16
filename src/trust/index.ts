// The trust core's public surface.
export * from './authoring.js';
export * from './cosigning.js';
export * from './device-auth.js';
export * from './digest.js';
export * from './document-type.js';
export * from './envelope.js';
export * from './freshness.js';
export * from './keys.js';
export * from './manifest.js';
export * from './root-check.js';
export * from './root-rotation.js';
export * from './signatures.js';
export * from './signed-file.js';
export * from './trust-root.js';
