// Decoders never crash: arbitrary and damaged bytes and text into every
// decoder of the trust core, each refused with a closed code or decoded into
// something that keeps the decoder's promises.
import { describe } from 'vitest';
import {
  envelopeDecode,
  rootThresholdBounds,
  trustRootDecode,
} from '../../fuzz/families/envelope.js';
import { hexParse, keyFileParse, signedFileParse } from '../../fuzz/families/text.js';
import { propertyTest } from './property.js';

describe('decoders', () => {
  propertyTest(envelopeDecode);
  propertyTest(trustRootDecode);
  propertyTest(rootThresholdBounds);
  propertyTest(signedFileParse);
  propertyTest(keyFileParse);
  propertyTest(hexParse);
});
