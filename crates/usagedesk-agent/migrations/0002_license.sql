-- UsageDesk agent state, schema version 2: the instance's license, from the vendor's license
-- file (docs/airgap-format.md "License file"). Never edit once released.

-- The enrollment of this instance's key (JSON, `usagedesk_airgap::Enrollment`): the instance
-- license as the vendor root key signed it (the instance's account path, from which the agent
-- knows whom to answer) and the enrollment secret's signature of this instance's key, which
-- proves the key to the vendor on first contact. Checked against the vendor key and the
-- instance key whenever the state is opened. The enrollment secret itself is not kept. NULL in
-- a state set up before license files: `usagedesk-agent license` fills it.
ALTER TABLE instance ADD COLUMN enrollment TEXT;
