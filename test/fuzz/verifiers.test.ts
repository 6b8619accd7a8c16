// Verifiers never accept what was not validly signed: forged manifests, roots,
// root chains, offers and check-in freshness statements, each acceptance checked against the fuzzer's own
// count of valid signatures (fuzz/oracle.ts).
import { describe } from 'vitest';
import { freshnessForgery } from '../../fuzz/families/freshness.js';
import { manifestForgery, manifestPolicy } from '../../fuzz/families/manifest.js';
import { offerForgery } from '../../fuzz/families/offer.js';
import { trustRootChainForgery, trustRootForgery } from '../../fuzz/families/roots.js';
import { thresholdCounting } from '../../fuzz/families/threshold.js';
import { propertyTest } from './property.js';

describe('verifiers', () => {
  propertyTest(thresholdCounting);
  propertyTest(manifestForgery);
  propertyTest(manifestPolicy);
  propertyTest(trustRootForgery);
  propertyTest(trustRootChainForgery);
  propertyTest(offerForgery);
  propertyTest(freshnessForgery);
});
