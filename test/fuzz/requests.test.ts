// Request messages: the server's deserializers and its real handlers (over a
// real SQLite store) on arbitrary, damaged and field-by-field built requests.
import { describe } from 'vitest';
import { requestDecode, requestHandling } from '../../fuzz/families/requests.js';
import { propertyTest } from './property.js';

describe('requests', () => {
  propertyTest(requestDecode);
  propertyTest(requestHandling);
});
