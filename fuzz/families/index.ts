// Every property family, in the order the campaign table lists them.
import type { Family } from '../family.js';
import { deviceAuthForgery } from './device-auth.js';
import { envelopeDecode, rootThresholdBounds, trustRootDecode } from './envelope.js';
import { freshnessForgery } from './freshness.js';
import { manifestForgery, manifestPolicy } from './manifest.js';
import { offerForgery } from './offer.js';
import { requestDecode, requestHandling } from './requests.js';
import { trustRootChainForgery, trustRootForgery } from './roots.js';
import { sizeCaps } from './size-caps.js';
import { hexParse, keyFileParse, signedFileParse } from './text.js';
import { thresholdCounting } from './threshold.js';

export const families: readonly Family[] = [
  envelopeDecode,
  trustRootDecode,
  rootThresholdBounds,
  signedFileParse,
  keyFileParse,
  hexParse,
  requestDecode,
  sizeCaps,
  thresholdCounting,
  manifestPolicy,
  manifestForgery,
  trustRootForgery,
  trustRootChainForgery,
  offerForgery,
  freshnessForgery,
  deviceAuthForgery,
  requestHandling,
];
